#include "error.h"
#include "io/modelweights.h"
#include "models/classifier.h"

#include "testimages.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

using namespace convscope;
using namespace convscope::test;

namespace {

ModelConfig kerasMobileNet(int size, Head head = Head::GlobalAveragePool) {
    ModelConfig c;
    c.architecture = Architecture::MobileNetV2;
    c.flavour = Flavour::Keras;
    c.head = head;
    c.inputSize = size;
    c.classCount = 3;
    return c;
}

/// Conv1 reduced to "copy input channel 0 at the kernel's top-left tap into output 0".
torch::Tensor conv1TopLeft(ClassifierImpl& model, const torch::Tensor& x) {
    torch::NoGradGuard noGrad;
    for (auto& p : model.named_parameters())
        if (p.key() == "Conv1.weight") {
            p.value().zero_();
            p.value()[0][0][0][0] = 1;
        }
    torch::Tensor out;
    const LayerTap tap = [&](const std::string& name, const torch::Tensor& t) {
        if (name == "Conv1")
            out = t.clone();
    };
    model.eval();
    model.forward(x, &tap);
    return out[0][0];
}

}  // namespace

TEST(KerasMobileNetV2, layersHaveKerasNamesInKerasOrder) {
    const Classifier model = makeClassifier(kerasMobileNet(32));
    const auto names = model->layerNames();
    const std::vector<std::string> first(names.begin(), names.begin() + 9);
    EXPECT_EQ(first, (std::vector<std::string>{
                         "Conv1_pad", "Conv1", "bn_Conv1", "Conv1_relu", "expanded_conv_depthwise",
                         "expanded_conv_depthwise_BN", "expanded_conv_depthwise_relu",
                         "expanded_conv_project", "expanded_conv_project_BN"}));
    const std::vector<std::string> last(names.end() - 5, names.end());
    EXPECT_EQ(last, (std::vector<std::string>{"Conv_1", "Conv_1_bn", "out_relu",
                                              "global_average_pooling2d", "predictions"}));
    EXPECT_NE(std::find(names.begin(), names.end(), "block_13_pad"), names.end());
    EXPECT_NE(std::find(names.begin(), names.end(), "block_15_add"), names.end());
    // 52 conv and 52 batch-norm layers, as in Keras, plus the head's dense layer.
    int withWeights = 0;
    for (const auto& l : model->summary())
        withWeights += l.parameters > 0;
    EXPECT_EQ(withWeights, 105);
}

TEST(KerasMobileNetV2, evenSidesArePaddedOnlyBottomAndRightOddSidesOnBoth) {
    const Classifier even = makeClassifier(kerasMobileNet(32));
    const torch::Tensor x = torch::arange(32 * 32, torch::kFloat32).reshape({1, 1, 32, 32});
    const torch::Tensor out = conv1TopLeft(*even, torch::cat({x, x, x}, 1));
    ASSERT_EQ(out.sizes(), (std::vector<std::int64_t>{16, 16}));
    // Output (i, j) sees input (2i, 2j) at its top-left tap: no padding before.
    EXPECT_EQ(out[0][0].item<float>(), 0.0f);
    EXPECT_EQ(out[3][5].item<float>(), float(6 * 32 + 10));

    const Classifier odd = makeClassifier(kerasMobileNet(33));
    const torch::Tensor y = torch::arange(1, 33 * 33 + 1, torch::kFloat32).reshape({1, 1, 33, 33});
    const torch::Tensor outOdd = conv1TopLeft(*odd, torch::cat({y, y, y}, 1));
    ASSERT_EQ(outOdd.sizes(), (std::vector<std::int64_t>{17, 17}));
    // One row and column of zeros before: output (i, j) sees input (2i - 1, 2j - 1).
    EXPECT_EQ(outOdd[0][0].item<float>(), 0.0f);
    EXPECT_EQ(outOdd[3][5].item<float>(), float(5 * 33 + 9 + 1));
}

TEST(KerasMobileNetV2, batchNormUsesKerasEpsilonAndMomentum) {
    const Classifier model = makeClassifier(kerasMobileNet(32));
    int seen = 0;
    for (const auto& item : model->named_modules("", false))
        if (auto* bn = dynamic_cast<torch::nn::BatchNorm2dImpl*>(item.value().get())) {
            EXPECT_DOUBLE_EQ(bn->options.eps(), 1e-3) << item.key();
            EXPECT_NEAR(*bn->options.momentum(), 0.001, 1e-12) << item.key();
            ++seen;
        }
    EXPECT_EQ(seen, 35 + 17);
}

TEST(KerasMobileNetV2, freezingUpToAKerasLayerFreezesWhatComesBefore) {
    const Classifier model = makeClassifier(kerasMobileNet(32));
    model->freezeUpTo("block_1_project_BN");
    for (const auto& p : model->named_parameters()) {
        const bool before = p.key().rfind("Conv1.", 0) == 0 || p.key().rfind("block_1_", 0) == 0;
        const bool after =
            p.key().rfind("block_2_", 0) == 0 || p.key().rfind("predictions", 0) == 0;
        if (before) {
            EXPECT_FALSE(p.value().requires_grad()) << p.key();
        }
        if (after) {
            EXPECT_TRUE(p.value().requires_grad()) << p.key();
        }
    }
}

TEST(KerasMobileNetV2, flavourIsSavedInTheMetadataAndWeightsRoundTrip) {
    TempDir dir;
    const ModelConfig config = kerasMobileNet(40, Head::Flatten);
    const Classifier a = makeClassifier(config);
    WeightsMetadata m;
    m.model = config;
    m.classNames = {"a", "b", "c"};
    m.preprocessing = tfPreprocessing();
    saveModelWeights(dir.file("w.h5"), *a, m);
    const auto read = readWeightsMetadata(dir.file("w.h5"));
    ASSERT_TRUE(read.has_value());
    EXPECT_EQ(read->model.flavour, Flavour::Keras);
    EXPECT_EQ(read->preprocessing.name, "tf");
    const Classifier b = makeClassifier(read->model);
    loadModelWeights(dir.file("w.h5"), *b, /*byName=*/false);
    a->eval();
    b->eval();
    torch::NoGradGuard noGrad;
    const torch::Tensor x = torch::rand({2, 3, 40, 40});
    EXPECT_TRUE(torch::allclose(a->forward(x), b->forward(x), 1e-5, 1e-6));
}

TEST(KerasMobileNetV2, resnetHasNoKerasFlavour) {
    ModelConfig c = kerasMobileNet(32);
    c.architecture = Architecture::ResNet18;
    EXPECT_THROW(makeClassifier(c), Error);
}
