// Networks from Keras model configs (core/models/kerasgraph): each layer class on small,
// hand-checked cases, and the two real pretrained nsfwjs networks. Parity with real Keras is
// tests/keras/compare_keras.py.
#include "models/kerasgraph.h"

#include "error.h"
#include "io/tfjsmodel.h"
#include "testimages.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <fstream>

using namespace convscope;
using nlohmann::json;

namespace {

json layer(const std::string& cls, const std::string& name, json config = json::object()) {
    config["name"] = name;
    return json{{"class_name", cls}, {"config", config}};
}

/// A Keras 2 Sequential model: an InputLayer of (None, h, w, c) (or (None, c) when h is 0),
/// then `layers`.
std::string sequential(std::vector<json> layers, std::int64_t h, std::int64_t w, std::int64_t c,
                       const std::string& version = "2.2.4") {
    json shape = h ? json{nullptr, h, w, c} : json{nullptr, c};
    layers.insert(layers.begin(), layer("InputLayer", "input", {{"batch_input_shape", shape}}));
    return json{{"class_name", "Sequential"},
                {"keras_version", version},
                {"config", {{"name", "seq"}, {"layers", layers}}}}
        .dump();
}

KerasGraph build(const std::string& text) {
    KerasGraph g = buildKerasGraph(parseKerasModelConfig(text, "model.json"), "model.json");
    g->eval();
    return g;
}

WeightArray array(const std::string& name, std::vector<std::int64_t> shape,
                  std::vector<float> values) {
    return WeightArray{name + ":0", "", std::move(shape), std::move(values)};
}

void load(KerasGraph& g, std::vector<LayerWeights> layers) {
    KerasWeightsFile file;
    file.layers = std::move(layers);
    g->loadWeights(file, "weights.h5", /*requireAll=*/false);
}

/// An NHWC image as the NCHW tensor the graph runs.
torch::Tensor nhwc(std::vector<float> values, std::int64_t h, std::int64_t w, std::int64_t c) {
    return torch::tensor(values).reshape({1, h, w, c}).permute({0, 3, 1, 2}).contiguous();
}

std::string reasonOf(const std::string& text) {
    try {
        build(text);
    } catch (const Error& e) {
        return e.what();
    }
    return "(built without an error)";
}

torch::Tensor run(const std::string& text, const torch::Tensor& x,
                  std::vector<LayerWeights> weights = {}) {
    KerasGraph g = build(text);
    if (!weights.empty())
        load(g, std::move(weights));
    torch::NoGradGuard noGrad;
    return g->forward(x);
}

}  // namespace

TEST(KerasGraph, sameConvWithStride2OnEvenInputPadsOnlyBottomAndRight) {
    const auto text = sequential({layer("Conv2D", "conv",
                                        {{"filters", 1},
                                         {"kernel_size", {3, 3}},
                                         {"strides", {2, 2}},
                                         {"padding", "same"},
                                         {"use_bias", false}})},
                                 4, 4, 1);
    const torch::Tensor x = torch::arange(16, torch::kFloat32).reshape({1, 1, 4, 4});
    const torch::Tensor y =
        run(text, x, {{"conv", {array("kernel", {3, 3, 1, 1}, std::vector<float>(9, 1.f))}}});
    ASSERT_EQ(y.sizes(), (std::vector<std::int64_t>{1, 1, 2, 2}));
    // TensorFlow pads 0 rows above and 1 below: the first window starts at row 0, column 0.
    EXPECT_FLOAT_EQ(y[0][0][0][0].item<float>(),
                    x[0][0].slice(0, 0, 3).slice(1, 0, 3).sum().item<float>());
    EXPECT_FLOAT_EQ(y[0][0][1][1].item<float>(),
                    x[0][0].slice(0, 2, 4).slice(1, 2, 4).sum().item<float>());
}

TEST(KerasGraph, conv2dAppliesDilationBiasAndActivation) {
    const auto text = sequential(
        {layer("Conv2D", "conv",
               {{"filters", 2}, {"kernel_size", 3}, {"dilation_rate", 2}, {"activation", "relu"}})},
        5, 5, 1);
    std::vector<float> kernel(18);
    for (std::size_t i = 0; i < 9; ++i) {
        kernel[2 * i] = 1;       // filter 0 sums the 9 dilated cells
        kernel[2 * i + 1] = -1;  // filter 1 is their negation: relu makes it 0 + bias
    }
    const torch::Tensor y =
        run(text, torch::ones({1, 1, 5, 5}),
            {{"conv", {array("kernel", {3, 3, 1, 2}, kernel), array("bias", {2}, {0.5f, 2.f})}}});
    ASSERT_EQ(y.sizes(), (std::vector<std::int64_t>{1, 2, 1, 1}));
    EXPECT_FLOAT_EQ(y[0][0][0][0].item<float>(), 9.5f);
    EXPECT_FLOAT_EQ(y[0][1][0][0].item<float>(), 0.f);
}

TEST(KerasGraph, depthwiseConvWithMultiplierOrdersChannelsAsKeras) {
    const auto text =
        sequential({layer("DepthwiseConv2D", "dw",
                          {{"kernel_size", 1}, {"depth_multiplier", 2}, {"use_bias", false}})},
                   1, 1, 2);
    // Keras kernel (1, 1, in=2, multiplier=2): output channel = in * 2 + m.
    const torch::Tensor y =
        run(text, nhwc({3, 5}, 1, 1, 2),
            {{"dw", {array("depthwise_kernel", {1, 1, 2, 2}, {1, 2, 10, 20})}}});
    EXPECT_TRUE(torch::equal(y.flatten(), torch::tensor({3.f, 6.f, 50.f, 100.f})));
}

TEST(KerasGraph, separableConvIsDepthwiseThenPointwise) {
    const auto text = sequential(
        {layer("SeparableConv2D", "sep", {{"filters", 1}, {"kernel_size", 1}})}, 1, 1, 2);
    const torch::Tensor y =
        run(text, nhwc({3, 5}, 1, 1, 2),
            {{"sep",
              {array("depthwise_kernel", {1, 1, 2, 1}, {2, 3}),
               array("pointwise_kernel", {1, 1, 2, 1}, {1, 10}), array("bias", {1}, {0.5f})}}});
    EXPECT_FLOAT_EQ(y.item<float>(), 2 * 3 + 10 * 3 * 5 + 0.5f);
}

TEST(KerasGraph, samePoolingPadsBottomRightAndAveragesOnlyInsideCells) {
    const std::vector<float> v{-1, -2, -3, -4, -5, -6, -7, -8, -9};
    const auto maxText = sequential(
        {layer("MaxPooling2D", "pool", {{"pool_size", 2}, {"strides", 2}, {"padding", "same"}})}, 3,
        3, 1);
    const torch::Tensor m = run(maxText, nhwc(v, 3, 3, 1));
    // Padded cells never win, even over negative values.
    EXPECT_TRUE(torch::equal(m.flatten(), torch::tensor({-1.f, -3.f, -7.f, -9.f})));

    const auto avgText =
        sequential({layer("AveragePooling2D", "pool",
                          {{"pool_size", 2}, {"strides", 1}, {"padding", "same"}})},
                   3, 3, 1);
    const torch::Tensor a = run(avgText, nhwc(v, 3, 3, 1));
    ASSERT_EQ(a.sizes(), (std::vector<std::int64_t>{1, 1, 3, 3}));
    EXPECT_FLOAT_EQ(a[0][0][0][0].item<float>(), (-1 - 2 - 4 - 5) / 4.f);
    EXPECT_FLOAT_EQ(a[0][0][0][2].item<float>(), (-3 - 6) / 2.f);
    EXPECT_FLOAT_EQ(a[0][0][2][2].item<float>(), -9.f);

    const auto avg3 = sequential({layer("AveragePooling2D", "pool",
                                        {{"pool_size", 3}, {"strides", 1}, {"padding", "same"}})},
                                 3, 3, 1);
    EXPECT_FLOAT_EQ(run(avg3, nhwc(v, 3, 3, 1))[0][0][0][0].item<float>(), (-1 - 2 - 4 - 5) / 4.f);
}

TEST(KerasGraph, globalPoolingReducesHeightAndWidth) {
    const torch::Tensor x = nhwc({1, 10, 2, 20, 3, 30, 4, 40}, 2, 2, 2);
    EXPECT_TRUE(torch::equal(run(sequential({layer("GlobalAveragePooling2D", "gap")}, 2, 2, 2), x),
                             torch::tensor({{2.5f, 25.f}})));
    EXPECT_TRUE(torch::equal(run(sequential({layer("GlobalMaxPooling2D", "gmp")}, 2, 2, 2), x),
                             torch::tensor({{4.f, 40.f}})));
    const auto keep =
        sequential({layer("GlobalMaxPooling2D", "gmp", {{"keepdims", true}})}, 2, 2, 2);
    EXPECT_EQ(run(keep, x).sizes(), (std::vector<std::int64_t>{1, 2, 1, 1}));
}

TEST(KerasGraph, flattenFeedsDenseInKerasChannelsLastOrder) {
    const auto text = sequential(
        {layer("Flatten", "flatten"), layer("Dense", "dense", {{"units", 1}, {"use_bias", false}})},
        1, 2, 2);
    // NHWC (1, 2, 2): pixel 0 = (1, 2), pixel 1 = (3, 4); Keras flattens to 1, 2, 3, 4.
    const torch::Tensor y = run(text, nhwc({1, 2, 3, 4}, 1, 2, 2),
                                {{"dense", {array("kernel", {4, 1}, {1, 10, 100, 1000})}}});
    EXPECT_FLOAT_EQ(y.item<float>(), 4321.f);
}

TEST(KerasGraph, denseOnAnImageActsOnChannels) {
    const auto text =
        sequential({layer("Dense", "dense", {{"units", 1}, {"activation", "linear"}})}, 1, 2, 2);
    const torch::Tensor y =
        run(text, nhwc({1, 2, 3, 4}, 1, 2, 2),
            {{"dense", {array("kernel", {2, 1}, {1, 10}), array("bias", {1}, {0.5f})}}});
    EXPECT_TRUE(torch::equal(y.flatten(), torch::tensor({21.5f, 43.5f})));
}

TEST(KerasGraph, batchNormalizationUsesEpsilonAndMissingGammaOrBeta) {
    const auto text = sequential(
        {layer("BatchNormalization", "bn", {{"axis", 3}, {"epsilon", 0.5}, {"center", false}})}, 1,
        1, 2);
    const torch::Tensor y = run(text, nhwc({3, 5}, 1, 1, 2),
                                {{"bn",
                                  {array("gamma", {2}, {2, 4}), array("moving_mean", {2}, {1, 1}),
                                   array("moving_variance", {2}, {1.5f, 3.5f})}}});
    EXPECT_TRUE(torch::allclose(y.flatten(), torch::tensor({2 * 2 / std::sqrt(2.f), 4 * 4 / 2.f})));
}

TEST(KerasGraph, activationsFollowKerasDefinitions) {
    const torch::Tensor x = torch::tensor({{-4.f, -1.f, 0.5f, 2.f, 7.f}});
    const auto act = [&](const std::string& name, const std::string& version = "2.2.4") {
        return run(sequential({layer("Activation", "a", {{"activation", name}})}, 0, 0, 5, version),
                   x);
    };
    EXPECT_TRUE(torch::equal(act("relu6"), torch::tensor({{0.f, 0.f, 0.5f, 2.f, 6.f}})));
    EXPECT_TRUE(
        torch::allclose(act("hard_sigmoid"), torch::tensor({{0.f, 0.3f, 0.6f, 0.9f, 1.f}})));
    EXPECT_TRUE(torch::allclose(act("hard_sigmoid", "3.15.1"),
                                torch::tensor({{0.f, 1 / 3.f, 0.5f + 0.5f / 6, 5 / 6.f, 1.f}})));
    EXPECT_TRUE(torch::allclose(act("swish"), x * torch::sigmoid(x)));
    EXPECT_TRUE(
        torch::allclose(act("gelu"), 0.5 * x * (1 + torch::erf(x / std::sqrt(2.0))), 1e-5, 1e-6));
    EXPECT_TRUE(torch::allclose(act("elu"), torch::where(x > 0, x, torch::exp(x) - 1)));
    EXPECT_TRUE(torch::allclose(act("softmax").sum(), torch::tensor(1.f)));
    EXPECT_TRUE(torch::allclose(act("softsign"), x / (1 + x.abs())));
    EXPECT_TRUE(torch::equal(act("linear"), x));
}

TEST(KerasGraph, reluLayerHonoursMaxValueSlopeAndThreshold) {
    const torch::Tensor x = torch::tensor({{-2.f, 0.25f, 1.f, 3.f, 9.f}});
    const auto relu = sequential(
        {layer("ReLU", "relu", {{"max_value", 4}, {"negative_slope", 0.1}, {"threshold", 0.5}})}, 0,
        0, 5);
    EXPECT_TRUE(torch::allclose(run(relu, x), torch::tensor({{-0.25f, -0.025f, 1.f, 3.f, 4.f}})));
    const auto leaky2 = sequential({layer("LeakyReLU", "l", {{"alpha", 0.5}})}, 0, 0, 5);
    EXPECT_FLOAT_EQ(run(leaky2, x)[0][0].item<float>(), -1.f);
    const auto leaky3 = sequential({layer("LeakyReLU", "l", {{"negative_slope", 0.25}})}, 0, 0, 5);
    EXPECT_FLOAT_EQ(run(leaky3, x)[0][0].item<float>(), -0.5f);
}

TEST(KerasGraph, softmaxRescalingDropoutAndZeroPadding) {
    const torch::Tensor x = nhwc({1, 2, 3, 4}, 1, 2, 2);
    const torch::Tensor s = run(sequential({layer("Softmax", "s")}, 1, 2, 2), x);
    EXPECT_TRUE(torch::allclose(s.sum(1), torch::ones({1, 1, 2})));
    const torch::Tensor r =
        run(sequential({layer("Rescaling", "r", {{"scale", 0.5}, {"offset", -1}}),
                        layer("Dropout", "d", {{"rate", 0.9}})},
                       1, 2, 2),
            x);
    EXPECT_TRUE(torch::equal(r, x * 0.5 - 1));
    const torch::Tensor p =
        run(sequential({layer("ZeroPadding2D", "p", {{"padding", {{1, 2}, {0, 3}}}})}, 1, 2, 2), x);
    ASSERT_EQ(p.sizes(), (std::vector<std::int64_t>{1, 2, 4, 5}));
    EXPECT_EQ(p[0][0][1][0].item<float>(), 1.f);
    EXPECT_EQ(p.sum().item<float>(), 10.f);
    EXPECT_EQ(run(sequential({layer("ZeroPadding2D", "p", {{"padding", 2}})}, 1, 2, 2), x).sizes(),
              (std::vector<std::int64_t>{1, 2, 5, 6}));
}

namespace {

/// A Keras 2 functional model: input (None, 2, 2, channels) -> two 1x1 convs a, b -> `merge`.
std::string twoBranches(const json& merge) {
    json in = layer("InputLayer", "in", {{"batch_input_shape", {nullptr, 2, 2, 1}}});
    in["inbound_nodes"] = json::array();
    json a = layer("Conv2D", "a", {{"filters", 2}, {"kernel_size", 1}, {"use_bias", false}});
    a["inbound_nodes"] = {{{"in", 0, 0, json::object()}}};
    json b = layer("Conv2D", "b", {{"filters", 2}, {"kernel_size", 1}, {"use_bias", false}});
    b["inbound_nodes"] = {{{"in", 0, 0, json::object()}}};
    json m = merge;
    m["inbound_nodes"] = {{{"a", 0, 0, json::object()}, {"b", 0, 0, json::object()}}};
    return json{{"class_name", "Model"},
                {"config",
                 {{"name", "m"},
                  {"layers", {in, a, b, m}},
                  {"input_layers", {{"in", 0, 0}}},
                  {"output_layers", {{m["config"]["name"], 0, 0}}}}}}
        .dump();
}

const std::vector<LayerWeights> kBranchWeights{{"a", {array("kernel", {1, 1, 1, 2}, {1, 2})}},
                                               {"b", {array("kernel", {1, 1, 1, 2}, {10, 20})}}};

}  // namespace

TEST(KerasGraph, concatenateOnKerasLastAxisJoinsChannels) {
    const torch::Tensor x = nhwc({1, 2, 3, 4}, 2, 2, 1);
    const torch::Tensor y =
        run(twoBranches(layer("Concatenate", "cat", {{"axis", -1}})), x, kBranchWeights);
    ASSERT_EQ(y.sizes(), (std::vector<std::int64_t>{1, 4, 2, 2}));
    EXPECT_TRUE(torch::equal(y[0][3], 20 * x[0][0]));
    const torch::Tensor rows =
        run(twoBranches(layer("Concatenate", "cat", {{"axis", 1}})), x, kBranchWeights);
    EXPECT_EQ(rows.sizes(), (std::vector<std::int64_t>{1, 2, 4, 2}));
}

TEST(KerasGraph, addSumsItsInputs) {
    const torch::Tensor x = nhwc({1, 2, 3, 4}, 2, 2, 1);
    const torch::Tensor y = run(twoBranches(layer("Add", "add")), x, kBranchWeights);
    EXPECT_TRUE(torch::equal(y[0][1], 22 * x[0][0]));
}

TEST(KerasGraph, keras3FunctionalConfigWithSharedLayerIsBuilt) {
    const auto tensor = [](const std::string& layer, int node) {
        return json{{"class_name", "__keras_tensor__"},
                    {"config", {{"shape", {nullptr, 3}}, {"keras_history", {layer, node, 0}}}}};
    };
    json in = layer("InputLayer", "x", {{"batch_shape", {nullptr, 3}}});
    in["inbound_nodes"] = json::array();
    json dense = layer("Dense", "shared", {{"units", 3}, {"use_bias", false}});
    dense["inbound_nodes"] = {{{"args", {tensor("x", 0)}}, {"kwargs", json::object()}},
                              {{"args", {tensor("shared", 0)}}, {"kwargs", json::object()}}};
    json add = layer("Add", "add");
    add["inbound_nodes"] = {
        {{"args", {{tensor("shared", 0), tensor("shared", 1)}}}, {"kwargs", json::object()}}};
    const std::string text = json{
        {"module", "keras.src.models.functional"},
        {"class_name", "Functional"},
        {"config",
         {{"name", "f"},
          {"layers", {in, dense, add}},
          {"input_layers", {"x", 0, 0}},
          {"output_layers",
           {"add", 0, 0}}}}}.dump();
    const torch::Tensor y =
        run(text, torch::tensor({{1.f, 2.f, 3.f}}),
            {{"shared", {array("kernel", {3, 3}, {2, 0, 0, 0, 2, 0, 0, 0, 2})}}});
    EXPECT_TRUE(torch::equal(y, torch::tensor({{6.f, 12.f, 18.f}})));  // 2x + 4x
}

TEST(KerasGraph, unsupportedLayerIsRefusedNamingItselfAndItsClass) {
    const std::string reason =
        reasonOf(sequential({layer("LSTM", "lstm_1", {{"units", 4}})}, 0, 0, 3));
    EXPECT_EQ(reason.rfind("model.json: layer 'lstm_1' is a LSTM, which ConvScope cannot build "
                           "(supported: InputLayer, Conv2D, ",
                           0),
              0u)
        << reason;
    EXPECT_NE(
        reasonOf(
            sequential(
                {layer("Conv2D", "c",
                       {{"filters", 1}, {"kernel_size", 1}, {"data_format", "channels_first"}})},
                2, 2, 1))
            .find("layer 'c' (Conv2D) uses data_format 'channels_first'"),
        std::string::npos);
    EXPECT_NE(reasonOf(sequential({layer("Activation", "a", {{"activation", "mish"}})}, 0, 0, 3))
                  .find("layer 'a' (Activation) has activation 'mish', which ConvScope cannot run"),
              std::string::npos);
}

TEST(KerasGraph, weightsThatDoNotFitAreRefusedAndNothingIsLoaded) {
    KerasGraph g = build(sequential(
        {layer("Dense", "d1", {{"units", 2}}), layer("Dense", "d2", {{"units", 1}})}, 0, 0, 3));
    const torch::Tensor before = g->named_parameters()["d1.weight"].clone();
    KerasWeightsFile file;
    file.layers = {
        {"d1", {array("kernel", {3, 2}, std::vector<float>(6, 1)), array("bias", {2}, {0, 0})}},
        {"d2", {array("kernel", {3, 1}, {1, 1, 1}), array("bias", {1}, {0})}}};
    try {
        g->loadWeights(file, "w.h5");
        FAIL() << "loaded";
    } catch (const Error& e) {
        EXPECT_EQ(
            std::string(e.what()),
            "w.h5: shape mismatch, nothing loaded: d2/kernel: file (3, 1), model expects (2, 1)");
    }
    EXPECT_TRUE(torch::equal(before, g->named_parameters()["d1.weight"]));
    file.layers.pop_back();
    try {
        g->loadWeights(file, "w.h5");
        FAIL() << "loaded";
    } catch (const Error& e) {
        EXPECT_EQ(std::string(e.what()),
                  "w.h5: lacks the weights of 1 layers of the model, nothing loaded: d2");
    }
}

namespace {

const std::string kShared = CONVSCOPE_SHARED_DATA;

void expectRealNetwork(const std::string& folder, std::size_t layers, std::int64_t side) {
    const std::string json = kShared + "/nsfwjs-4.4.0/" + folder + "/model.json";
    if (!std::filesystem::exists(json))
        GTEST_SKIP() << json << " is missing (no shared data beside this checkout)";
    KerasGraph g = loadKerasGraph(json);
    EXPECT_EQ(g->config().layers.size(), layers);
    EXPECT_EQ(g->inputShapes().front(), (std::vector<std::int64_t>{3, side, side}));
    std::size_t withWeights = 0;
    for (const auto& l : g->config().layers)
        withWeights += l.type == KerasLayerType::Conv2D || l.type == KerasLayerType::Dense ||
                       l.type == KerasLayerType::DepthwiseConv2D ||
                       l.type == KerasLayerType::BatchNormalization;
    EXPECT_EQ(g->named_children().size(), withWeights);
    torch::NoGradGuard noGrad;
    torch::manual_seed(0);
    const torch::Tensor y = g->forward(torch::rand({2, 3, side, side}));
    ASSERT_EQ(y.sizes(), (std::vector<std::int64_t>{2, 5}));
    EXPECT_TRUE(torch::allclose(y.sum(1), torch::ones({2}), 1e-5, 1e-5));
}

}  // namespace

TEST(KerasGraph, nsfwjsMobileNetV2BuildsFromItsTopologyAndLoadsItsWeights) {
    expectRealNetwork("mobilenet_v2", 162, 224);
}

TEST(KerasGraph, nsfwjsInceptionV3BuildsFromItsTopologyAndLoadsItsWeights) {
    expectRealNetwork("inception_v3", 318, 299);
}

TEST(KerasGraph, cloneCarriesWeightsStatisticsAndMode) {
    KerasGraph g = build(sequential({layer("Conv2D", "c", {{"filters", 2}, {"kernel_size", 1}}),
                                     layer("BatchNormalization", "bn", {{"scale", false}})},
                                    2, 2, 1));
    load(g, {{"bn",
              {array("beta", {2}, {1, 2}), array("moving_mean", {2}, {3, 4}),
               array("moving_variance", {2}, {5, 6})}}});
    KerasGraph copy = cloneKerasGraph(g);
    EXPECT_FALSE(copy->is_training());
    EXPECT_FALSE(copy->named_parameters()["bn.weight"].requires_grad());
    torch::NoGradGuard noGrad;
    const torch::Tensor x = torch::rand({1, 1, 2, 2});
    EXPECT_TRUE(torch::equal(g->forward(x), copy->forward(x)));
    copy->named_parameters()["c.weight"].fill_(0);
    EXPECT_FALSE(torch::equal(g->forward(x), copy->forward(x)));
}

TEST(KerasGraph, aToJsonFileWithoutWeightsIsRefusedSayingWhatIsMissing) {
    const test::TempDir dir;
    const std::string path = dir.file("model.json");
    std::ofstream(path) << sequential({layer("Dense", "d", {{"units", 1}})}, 0, 0, 2);
    try {
        loadKerasGraph(path);
        FAIL() << "loaded";
    } catch (const Error& e) {
        EXPECT_EQ(e.reason(),
                  "names no weights (not a TF.js model.json with a weightsManifest): give its "
                  "weights file too (Keras .h5 or .weights.h5)");
    }
}

TEST(KerasGraph, inputOfTheWrongShapeIsAnErrorNamingTheInput) {
    KerasGraph g = build(sequential({layer("Flatten", "f")}, 4, 4, 3));
    try {
        g->forward(torch::zeros({1, 1, 4, 4}));
        FAIL() << "ran";
    } catch (const Error& e) {
        EXPECT_EQ(std::string(e.what()),
                  "seq: input 'input' takes (3, 4, 4) per sample (channels first), not (1, 4, 4)");
    }
}

TEST(KerasGraph, cyclesAndUnknownInputsAreRefused) {
    const auto model = [](const std::string& aInput) {
        json in = layer("InputLayer", "in", {{"batch_input_shape", {nullptr, 2}}});
        json a = layer("Dense", "a", {{"units", 2}});
        a["inbound_nodes"] = {{{aInput, 0, 0, json::object()}}};
        json b = layer("Dense", "b", {{"units", 2}});
        b["inbound_nodes"] = {{{"a", 0, 0, json::object()}}};
        return json{{"class_name", "Model"},
                    {"config",
                     {{"layers", {in, a, b}},
                      {"input_layers", {{"in", 0, 0}}},
                      {"output_layers", {{"b", 0, 0}}}}}}
            .dump();
    };
    EXPECT_EQ(reasonOf(model("b")), "model.json: layer 'b' depends on its own output (a cycle)");
    EXPECT_EQ(reasonOf(model("c")),
              "model.json: layer 'a' (Dense) takes the output of layer 'c', which the model lacks");
    EXPECT_EQ(reasonOf(model("in")), "(built without an error)");
}
