// Network surgery and the classifier plan of Keras model configs (models/kerassurgery.h),
// and the classifier built from them (models/kerasclassifier.h).
#include "error.h"
#include "models/classifier.h"
#include "io/modelweights.h"
#include "models/finetuning.h"
#include "models/kerasforms.h"
#include "models/kerassurgery.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <string>

using namespace convscope;

namespace {

/// A functional model: two branches joined by Concatenate, a second block after it, then
/// global average pooling, dropout and a softmax Dense.
const char* kBranchy = R"({"class_name": "Functional", "config": {"name": "branchy",
 "layers": [
  {"class_name": "InputLayer", "name": "in", "config": {"batch_input_shape": [null, 24, 24, 3],
   "name": "in"}, "inbound_nodes": []},
  {"class_name": "Conv2D", "name": "a", "config": {"name": "a", "filters": 4,
   "kernel_size": [3, 3], "padding": "same", "activation": "relu"},
   "inbound_nodes": [[["in", 0, 0, {}]]]},
  {"class_name": "Conv2D", "name": "b", "config": {"name": "b", "filters": 4,
   "kernel_size": [1, 1], "activation": "relu"}, "inbound_nodes": [[["in", 0, 0, {}]]]},
  {"class_name": "Concatenate", "name": "mixed", "config": {"name": "mixed", "axis": -1},
   "inbound_nodes": [[["a", 0, 0, {}], ["b", 0, 0, {}]]]},
  {"class_name": "Conv2D", "name": "top", "config": {"name": "top", "filters": 6,
   "kernel_size": [3, 3], "activation": "relu"}, "inbound_nodes": [[["mixed", 0, 0, {}]]]},
  {"class_name": "GlobalAveragePooling2D", "name": "pool", "config": {"name": "pool"},
   "inbound_nodes": [[["top", 0, 0, {}]]]},
  {"class_name": "Dropout", "name": "drop", "config": {"name": "drop", "rate": 0.5},
   "inbound_nodes": [[["pool", 0, 0, {}]]]},
  {"class_name": "Dense", "name": "probs", "config": {"name": "probs", "units": 5,
   "activation": "softmax"}, "inbound_nodes": [[["drop", 0, 0, {}]]]}],
 "input_layers": [["in", 0, 0]], "output_layers": [["probs", 0, 0]]}})";

ModelConfig kerasConfig(int classes, const std::string& cut = {}, const std::string& append = {}) {
    ModelConfig m;
    m.architecture = Architecture::Keras;
    m.kerasModel = kBranchy;
    m.inputSize = 24;
    m.classCount = classes;
    m.cutAfter = cut;
    m.append = append;
    return m;
}

}  // namespace

TEST(KerasSurgery, appendSpecBuildsNamedChainedLayers) {
    const auto layers =
        parseAppendSpec("conv:16:3:2, maxpool:2,gap,dense:32,dropout:0.5", "cut", {"added_conv2d"});
    ASSERT_EQ(layers.size(), 5u);
    EXPECT_EQ(layers[0].name, "added_conv2d_1");  // "added_conv2d" is taken
    EXPECT_EQ(layers[0].type, KerasLayerType::Conv2D);
    EXPECT_EQ(layers[0].filters, 16);
    EXPECT_EQ(layers[0].strides[0], 2);
    EXPECT_EQ(layers[0].padding, KerasPadding::Same);
    EXPECT_EQ(layers[0].calls[0][0].layer, "cut");
    EXPECT_EQ(layers[1].name, "added_max_pooling2d");
    EXPECT_EQ(layers[1].calls[0][0].layer, "added_conv2d_1");
    EXPECT_EQ(layers[2].type, KerasLayerType::GlobalAveragePooling2D);
    EXPECT_EQ(layers[3].activation, KerasActivation::Relu);
    EXPECT_DOUBLE_EQ(layers[4].rate, 0.5);
}

TEST(KerasSurgery, badSpecItemsAreRefusedByName) {
    for (const char* spec : {"lstm:3", "conv:16", "dropout:1.5", "dense:0", "gap,,dense:3",
                             "maxpool:x", "flatten:2"}) {
        try {
            parseAppendSpec(spec, "cut", {});
            ADD_FAILURE() << spec << " was accepted";
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find("--append"), std::string::npos) << e.what();
        }
    }
}

TEST(KerasSurgery, theOutputDenseBecomesTheHeadWithoutItsSoftmax) {
    const KerasNetworkPlan plan = planKerasNetwork(kerasConfig(3));
    EXPECT_EQ(plan.head, "probs");
    EXPECT_EQ(plan.features, "drop");
    EXPECT_EQ(plan.headKind, Head::GlobalAveragePool);  // through dropout, CAM-ready
    EXPECT_EQ(plan.freezePoint, "mixed");               // the last merge that convolutions follow
    EXPECT_EQ(backboneOutputLayer(kerasConfig(3)), "drop");
    EXPECT_EQ(lastBlockFreezePoint(kerasConfig(3)), "mixed");
}

TEST(KerasSurgery, theClassifierHasOneLogitPerClassAndKerasKinds) {
    Classifier model = makeClassifier(kerasConfig(3));
    torch::NoGradGuard noGrad;
    model->eval();
    const torch::Tensor logits = model->forward(torch::rand({2, 3, 24, 24}));
    EXPECT_EQ(logits.sizes(), (std::vector<std::int64_t>{2, 3}));
    // Logits, not probabilities: the file's softmax is left out.
    EXPECT_GT((logits.sum(1) - 1).abs().max().item<float>(), 1e-3);
    const auto rows = model->summary();
    EXPECT_EQ(rows.back().name, "probs");
    EXPECT_EQ(rows.back().kind, "Dense");
    bool concatenate = false;
    for (const auto& r : rows)
        concatenate = concatenate || (r.name == "mixed" && r.kind == "Concatenate");
    EXPECT_TRUE(concatenate);
}

TEST(KerasSurgery, cuttingDropsLaterLayersAndAddsAHead) {
    Classifier model = makeClassifier(kerasConfig(2, "mixed", "conv:3:1,gap"));
    std::vector<std::string> names;
    for (const auto& r : model->summary())
        names.push_back(r.name);
    const std::vector<std::string> expected{
        "in", "a", "b", "mixed", "added_conv2d", "added_global_average_pooling2d", "predictions"};
    EXPECT_EQ(names, expected);
    EXPECT_EQ(model->config().head, Head::GlobalAveragePool);
}

TEST(KerasSurgery, frozenBatchNormAndClonesBehave) {
    Classifier model = makeClassifier(kerasConfig(2, "mixed", "bn,gap"));
    model->freezeUpTo("mixed");
    for (const auto& p : model->named_parameters())
        EXPECT_EQ(p.value().requires_grad(),
                  p.key().rfind("a.", 0) != 0 && p.key().rfind("b.", 0) != 0)
            << p.key();
    Classifier copy = cloneClassifier(model);
    torch::NoGradGuard noGrad;
    model->eval();
    copy->eval();
    const torch::Tensor x = torch::rand({1, 3, 24, 24});
    EXPECT_TRUE(torch::equal(model->forward(x), copy->forward(x)));
}

TEST(KerasSurgery, unusableCutsAndModelsAreRefusedWithTheReason) {
    auto refused = [](const ModelConfig& m, const char* part) {
        try {
            makeClassifier(m);
            ADD_FAILURE() << "accepted";
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
        }
    };
    refused(kerasConfig(2, "nosuch"), "no such layer");
    refused(kerasConfig(2, "in"), "input layer");
    refused(kerasConfig(2, "top"), "needs a flat input");
    ModelConfig appendOnly = kerasConfig(2);
    appendOnly.append = "gap";
    refused(appendOnly, "--cut-after");
    ModelConfig noDense = kerasConfig(2);
    std::string text = kBranchy;
    const std::string output = R"([["probs", 0, 0]])";
    text.replace(text.find(output), output.size(), R"([["pool", 0, 0]])");
    noDense.kerasModel = text;
    refused(noDense, "not a dense layer");
}

TEST(KerasSurgery, builtInNetworksHaveKerasFormsThatComputeTheSame) {
    struct Case {
        Architecture architecture;
        Head head;
        Flavour flavour;
        int size;
    };
    const Case cases[] = {
        {Architecture::SmallConvNet, Head::Flatten, Flavour::Standard, 40},
        {Architecture::SmallConvNet, Head::GlobalAveragePool, Flavour::Standard, 40},
        {Architecture::Vgg16, Head::Flatten, Flavour::Standard, 64},
        {Architecture::Vgg16, Head::GlobalAveragePool, Flavour::Standard, 64},
        {Architecture::MobileNetV2, Head::GlobalAveragePool, Flavour::Keras, 40},
        {Architecture::MobileNetV2, Head::Flatten, Flavour::Keras, 41}};
    const std::string file =
        (std::filesystem::temp_directory_path() / "convscope-kerasform.h5").string();
    torch::manual_seed(7);
    for (const Case& c : cases) {
        ModelConfig m;
        m.architecture = c.architecture;
        m.head = c.head;
        m.flavour = c.flavour;
        m.inputSize = c.size;
        m.classCount = 3;
        Classifier builtIn = makeClassifier(m);
        {
            torch::NoGradGuard noGrad;
            for (auto& b : builtIn->named_buffers())
                if (b.key().find("running_") != std::string::npos)
                    b.value().uniform_(0.5, 1.5);
        }
        saveModelWeights(file, *builtIn, WeightsMetadata{m, {"a", "b", "c"}, {}});
        Classifier keras = makeClassifier(asKerasNetwork(m));
        const LoadReport report = loadModelWeights(file, *keras, /*byName=*/true);
        EXPECT_TRUE(report.notInFile.empty() && report.notInModel.empty())
            << architectureName(c.architecture) << ": " << describe(report);
        torch::NoGradGuard noGrad;
        builtIn->eval();
        keras->eval();
        const torch::Tensor x = torch::rand({2, 3, c.size, c.size});
        const float diff = (builtIn->forward(x) - keras->forward(x)).abs().max().item<float>();
        EXPECT_LT(diff, 1e-5) << architectureName(c.architecture) << " " << headName(c.head);
    }
    std::filesystem::remove(file);
    ModelConfig resnet;
    resnet.architecture = Architecture::ResNet18;
    EXPECT_FALSE(hasKerasForm(resnet));
    EXPECT_THROW(kerasModelOf(resnet), Error);
}

TEST(KerasSurgery, aBuiltInNetworkCutKeepsItsWeightsByName) {
    ModelConfig m;
    m.inputSize = 40;
    m.classCount = 2;
    ModelConfig cut = asKerasNetwork(m);
    cut.cutAfter = "max_pooling2d_1";
    cut.append = "conv:8:3,gap";
    Classifier model = makeClassifier(cut);
    std::vector<std::string> names;
    for (const auto& r : model->summary())
        names.push_back(r.name);
    const std::vector<std::string> expected{"input_1",
                                            "conv2d",
                                            "max_pooling2d",
                                            "conv2d_1",
                                            "max_pooling2d_1",
                                            "added_conv2d",
                                            "added_global_average_pooling2d",
                                            "predictions"};
    EXPECT_EQ(names, expected);
}
