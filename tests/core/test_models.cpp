#include "models/classifier.h"
#include "models/kerasforms.h"

#include "error.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

using namespace convscope;

namespace {

std::int64_t parameterCount(ClassifierImpl& m) {
    std::int64_t n = 0;
    for (const auto& p : m.parameters())
        n += p.numel();
    return n;
}

ModelConfig config(Architecture a, Head h, int size, int classes) {
    ModelConfig c;
    c.architecture = a;
    c.head = h;
    c.inputSize = size;
    c.classCount = classes;
    return c;
}

}  // namespace

struct ArchCase {
    Architecture architecture;
    int inputSize;
};

class EveryArchitecture : public ::testing::TestWithParam<ArchCase> {};

TEST_P(EveryArchitecture, givesOneLogitPerClassWithEveryHead) {
    for (Head head : {Head::Flatten, Head::GlobalAveragePool, Head::Original}) {
        const Classifier model =
            makeClassifier(config(GetParam().architecture, head, GetParam().inputSize, 5));
        model->eval();
        torch::NoGradGuard noGrad;
        const torch::Tensor logits =
            model->forward(torch::rand({2, 3, GetParam().inputSize, GetParam().inputSize}));
        EXPECT_EQ(logits.sizes(), (std::vector<std::int64_t>{2, 5})) << headName(head);
        const auto layers = model->summary();
        ASSERT_FALSE(layers.empty());
        EXPECT_EQ(layers.back().outputShape, std::vector<std::int64_t>{5});
    }
}

INSTANTIATE_TEST_SUITE_P(All, EveryArchitecture,
                         ::testing::Values(ArchCase{Architecture::SmallConvNet, 150},
                                           ArchCase{Architecture::SmallConvNet, 28},
                                           ArchCase{Architecture::Vgg16, 32},
                                           ArchCase{Architecture::ResNet18, 64},
                                           ArchCase{Architecture::MobileNetV2, 64}));

TEST(Models, vgg16OriginalHeadIsTorchvisionsAndKerassTop) {
    EXPECT_EQ(parseHead(headName(Head::Original)), Head::Original);
    const Classifier model = makeClassifier(config(Architecture::Vgg16, Head::Original, 224, 1000));
    // torchvision.models.vgg16(): 138,357,544 parameters, as Keras's VGG16(include_top=True).
    EXPECT_EQ(parameterCount(*model), 138357544);
    std::vector<std::string> dense;
    for (const auto& layer : model->summary())
        if (layer.kind == "Dense")
            dense.push_back(layer.name);
    EXPECT_EQ(dense, (std::vector<std::string>{"fc1", "fc2", "predictions"}));
}

TEST(Models, smallConvNetHasTheKerasBlogLayersAndSizes) {
    const Classifier model =
        makeClassifier(config(Architecture::SmallConvNet, Head::Flatten, 150, 2));
    const auto layers = model->summary();
    std::vector<std::string> names;
    for (const auto& l : layers)
        names.push_back(l.name);
    EXPECT_EQ(names, (std::vector<std::string>{"conv2d", "max_pooling2d", "conv2d_1",
                                               "max_pooling2d_1", "conv2d_2", "max_pooling2d_2",
                                               "flatten", "dense", "dropout", "dense_1"}));
    EXPECT_EQ(layers[0].parameters, 3 * 3 * 3 * 32 + 32);
    EXPECT_EQ(layers[0].outputShape, (std::vector<std::int64_t>{32, 148, 148}));
    EXPECT_EQ(layers[6].outputShape, (std::vector<std::int64_t>{17 * 17 * 64}));
    EXPECT_EQ(layers[0].kind, "Conv2D");
    EXPECT_EQ(layers[1].kind, "MaxPool2D");
    EXPECT_EQ(layers[7].kind, "Dense");
}

TEST(Models, parameterCountsMatchTheReferenceImplementations) {
    // Keras VGG16 without its top: 14,714,688; torchvision resnet18: 11,689,512;
    // torchvision mobilenet_v2: 3,504,872 (both with 1000 classes).
    const Classifier vgg =
        makeClassifier(config(Architecture::Vgg16, Head::GlobalAveragePool, 32, 1));
    EXPECT_EQ(parameterCount(*vgg) - (512 + 1), 14'714'688);
    const Classifier resnet =
        makeClassifier(config(Architecture::ResNet18, Head::GlobalAveragePool, 224, 1000));
    EXPECT_EQ(parameterCount(*resnet), 11'689'512);
    const Classifier mobilenet =
        makeClassifier(config(Architecture::MobileNetV2, Head::GlobalAveragePool, 224, 1000));
    EXPECT_EQ(parameterCount(*mobilenet), 3'504'872);
}

TEST(Models, torchvisionModuleNamesAreKept) {
    const Classifier resnet =
        makeClassifier(config(Architecture::ResNet18, Head::GlobalAveragePool, 64, 3));
    const auto params = resnet->named_parameters();
    EXPECT_TRUE(params.contains("layer1.0.conv1.weight"));
    EXPECT_TRUE(params.contains("layer2.0.downsample.0.weight"));
    EXPECT_TRUE(params.contains("fc.bias"));
    const Classifier mobilenet =
        makeClassifier(config(Architecture::MobileNetV2, Head::GlobalAveragePool, 64, 3));
    const auto mp = mobilenet->named_parameters();
    EXPECT_TRUE(mp.contains("features.0.0.weight"));
    EXPECT_TRUE(mp.contains("features.1.conv.0.0.weight"));
    EXPECT_TRUE(mp.contains("features.2.conv.1.0.weight"));
    EXPECT_TRUE(mp.contains("features.18.1.running_mean") ||
                mobilenet->named_buffers().contains("features.18.1.running_mean"));
    EXPECT_TRUE(mp.contains("classifier.1.weight"));
}

TEST(Models, freezingStopsGradientsAndBatchNormStatistics) {
    const Classifier model =
        makeClassifier(config(Architecture::ResNet18, Head::GlobalAveragePool, 64, 3));
    model->freezeUpTo("layer2");
    const auto params = model->named_parameters();
    EXPECT_FALSE(params["conv1.weight"].requires_grad());
    EXPECT_FALSE(params["layer2.1.conv2.weight"].requires_grad());
    EXPECT_TRUE(params["layer3.0.conv1.weight"].requires_grad());
    EXPECT_TRUE(params["fc.weight"].requires_grad());
    model->train();
    const torch::Tensor before = model->named_buffers()["layer1.0.bn1.running_mean"].clone();
    const torch::Tensor unfrozenBefore =
        model->named_buffers()["layer3.0.bn1.running_mean"].clone();
    model->forward(torch::rand({4, 3, 64, 64}) * 5);
    EXPECT_TRUE(torch::equal(before, model->named_buffers()["layer1.0.bn1.running_mean"]));
    EXPECT_FALSE(torch::equal(unfrozenBefore, model->named_buffers()["layer3.0.bn1.running_mean"]));
    const auto summary = model->summary();
    EXPECT_FALSE(summary[0].trainable);
    EXPECT_TRUE(summary.back().trainable);
    EXPECT_THROW(model->freezeUpTo("layer9"), Error);
    model->freezeUpTo("");
    EXPECT_TRUE(model->named_parameters()["conv1.weight"].requires_grad());
}

TEST(Models, cloneIsAnIndependentCopy) {
    const Classifier model =
        makeClassifier(config(Architecture::SmallConvNet, Head::GlobalAveragePool, 32, 2));
    const Classifier copy = cloneClassifier(model);
    model->eval();
    copy->eval();
    torch::NoGradGuard noGrad;
    const torch::Tensor x = torch::rand({1, 3, 32, 32});
    EXPECT_TRUE(torch::allclose(model->forward(x), copy->forward(x)));
    model->named_parameters()["conv2d.bias"].add_(1);
    EXPECT_FALSE(torch::allclose(model->forward(x), copy->forward(x)));
}

TEST(Models, tooSmallInputIsAClearError) {
    try {
        makeClassifier(config(Architecture::SmallConvNet, Head::Flatten, 12, 2));
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("input size"), std::string::npos) << e.what();
    }
}

TEST(Models, theFusedPoolThenReluPathGivesTheSameOutputsAsTheTappedPath) {
    // Without a tap the Keras nets pool before the ReLU (cheaper); with one they follow the
    // layer order. Both must give the same logits.
    for (Architecture a : {Architecture::SmallConvNet, Architecture::Vgg16}) {
        const Classifier model = makeClassifier(config(a, Head::Flatten, 64, 3));
        model->eval();
        torch::NoGradGuard noGrad;
        const torch::Tensor x = torch::randn({2, 3, 64, 64});
        const LayerTap tap = [](const std::string&, const torch::Tensor&) {};
        EXPECT_TRUE(torch::allclose(model->forward(x), model->forward(x, &tap), 1e-5, 1e-6))
            << architectureName(a);
    }
}

TEST(Models, batchNormInferenceKeepsRunningStatisticsWhileTraining) {
    ModelConfig c;
    c.architecture = Architecture::MobileNetV2;
    c.head = Head::GlobalAveragePool;
    c.inputSize = 32;
    c.classCount = 3;
    Classifier model = makeClassifier(c);
    const auto before = model->named_buffers()["features.18.1.running_mean"].clone();
    model->setBatchNormInference(true);
    model->train();
    EXPECT_TRUE(model->is_training());
    model->forward(torch::randn({4, 3, 32, 32}) * 3 + 1);
    EXPECT_TRUE(torch::equal(before, model->named_buffers()["features.18.1.running_mean"]));
    // A copy keeps the setting; turning it off lets the statistics move again.
    Classifier copy = cloneClassifier(model);
    EXPECT_TRUE(copy->batchNormInference());
    model->setBatchNormInference(false);
    model->forward(torch::randn({4, 3, 32, 32}) * 3 + 1);
    EXPECT_FALSE(torch::equal(before, model->named_buffers()["features.18.1.running_mean"]));
}

namespace {

// The first batch norm's running mean after one training forward pass from a fresh network.
torch::Tensor firstRunningMeanAfterOneStep(const ModelConfig& config) {
    torch::manual_seed(4);
    Classifier model = makeClassifier(config);
    model->train();
    torch::manual_seed(5);
    model->forward(torch::rand({2, 3, config.inputSize, config.inputSize}));
    for (const auto& module : model->modules(false))
        if (auto* bn = dynamic_cast<torch::nn::BatchNorm2dImpl*>(module.get()))
            return bn->running_mean.clone();
    ADD_FAILURE() << "no batch norm";
    return {};
}

}  // namespace

TEST(Models, batchNormMomentumSetsEveryLayersMovingAverage) {
    // Keras's MobileNetV2 moves its statistics by 0.001 of a batch; with --bn-momentum 0.9 by
    // 0.1: a hundred times as far from their start (zero) after one step. The same in the
    // network's Keras form, which runs its layers through the Keras graph.
    ModelConfig c;
    c.architecture = Architecture::MobileNetV2;
    c.flavour = Flavour::Keras;
    c.inputSize = 32;
    c.head = Head::GlobalAveragePool;
    for (const ModelConfig& base : {c, asKerasNetwork(c)}) {
        ModelConfig faster = base;
        faster.batchNormMomentum = 0.9;
        const torch::Tensor own = firstRunningMeanAfterOneStep(base);
        const torch::Tensor moved = firstRunningMeanAfterOneStep(faster);
        ASSERT_GT(own.abs().sum().item<double>(), 0.0);
        EXPECT_TRUE(torch::allclose(moved, own * 100.0, 1e-3, 1e-7))
            << architectureName(base.architecture);
    }
    c.batchNormMomentum = 1.0;
    EXPECT_THROW(makeClassifier(c), Error);
}
