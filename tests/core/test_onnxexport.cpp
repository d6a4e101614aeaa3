// ONNX export (core/io/onnxexport): what the written file declares (opset, dynamic batch,
// names, metadata) and what is refused. Whether ONNX Runtime computes ConvScope's numbers is
// tests/e2e/test_onnx_export.py.
#include "io/onnxexport.h"

#include "error.h"
#include "io/modelweights.h"
#include "models/classifier.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>

#include <unistd.h>

using namespace convscope;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

class OnnxExport : public ::testing::Test {
protected:
    void SetUp() override {
        m_dir = fs::temp_directory_path() /
                ("convscope-onnx-" + std::to_string(::getpid()) + "-" +
                 ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::create_directories(m_dir);
    }
    void TearDown() override { fs::remove_all(m_dir); }

    std::string path(const std::string& name) const { return (m_dir / name).string(); }

    /// A freshly initialised model saved with ConvScope metadata.
    std::string weights(const ModelConfig& config, const std::string& name,
                        Preprocessing preprocessing = rescalePreprocessing()) {
        torch::manual_seed(3);
        Classifier model = makeClassifier(config);
        WeightsMetadata m;
        m.model = config;
        for (int c = 0; c < config.classCount; ++c)
            m.classNames.push_back("class \"" + std::to_string(c) + "\"");
        m.preprocessing = preprocessing;
        const std::string file = path(name);
        saveModelWeights(file, *model, m);
        return file;
    }

    fs::path m_dir;
};

ModelConfig config(Architecture a, Head h, Flavour f, int size, int classes) {
    ModelConfig c;
    c.architecture = a;
    c.head = h;
    c.flavour = f;
    c.inputSize = size;
    c.classCount = classes;
    return c;
}

std::vector<std::string> dims(std::initializer_list<std::string> d) {
    return d;
}

}  // namespace

TEST_F(OnnxExport, everyArchitectureAndHeadDeclaresOpset17ADynamicBatchAndItsMetadata) {
    struct Case {
        Architecture architecture;
        Head head;
        Flavour flavour;
    };
    const Case cases[] = {
        {Architecture::SmallConvNet, Head::Flatten, Flavour::Standard},
        {Architecture::SmallConvNet, Head::GlobalAveragePool, Flavour::Standard},
        {Architecture::Vgg16, Head::GlobalAveragePool, Flavour::Standard},
        {Architecture::Vgg16, Head::Flatten, Flavour::Standard},
        {Architecture::ResNet18, Head::Flatten, Flavour::Standard},
        {Architecture::ResNet18, Head::Original, Flavour::Standard},
        {Architecture::MobileNetV2, Head::Flatten, Flavour::Standard},
        {Architecture::MobileNetV2, Head::GlobalAveragePool, Flavour::Standard},
        {Architecture::MobileNetV2, Head::Flatten, Flavour::Keras},
        {Architecture::MobileNetV2, Head::Original, Flavour::Keras},
    };
    for (const Case& c : cases) {
        const ModelConfig m = config(c.architecture, c.head, c.flavour, 40, 3);
        const std::string label = std::string(architectureName(c.architecture)) + " " +
                                  headName(c.head) + " " + flavourName(c.flavour);
        SCOPED_TRACE(label);
        const std::string out = path("model.onnx");
        const OnnxModelInfo written = exportOnnx(weights(m, "w.h5"), out);
        const OnnxModelInfo info = describeOnnxFile(out);
        EXPECT_EQ(info.opset, 17);
        EXPECT_EQ(info.producer.rfind("ConvScope ", 0), 0u) << info.producer;
        ASSERT_EQ(info.inputs.size(), 1u);
        EXPECT_EQ(info.inputs[0].name, "input");
        EXPECT_EQ(info.inputs[0].dims, dims({"batch", "3", "40", "40"}));
        ASSERT_EQ(info.outputs.size(), 1u);
        EXPECT_EQ(info.outputs[0].name, "logits");
        EXPECT_EQ(info.outputs[0].dims, dims({"batch", "3"}));
        EXPECT_EQ(json::parse(info.metadata.at("class_names")),
                  json({"class \"0\"", "class \"1\"", "class \"2\""}));
        EXPECT_EQ(json::parse(info.metadata.at("softmax_applied")), json(false));
        const json model = json::parse(info.metadata.at("model"));
        EXPECT_EQ(model["architecture"], architectureName(c.architecture));
        EXPECT_EQ(model["head"], headName(c.head));
        EXPECT_EQ(model["flavour"], flavourName(c.flavour));
        EXPECT_EQ(model["input_size"], 40);
        EXPECT_EQ(written.parameters, info.parameters);
        std::int64_t parameters = 0;
        for (const auto& p : makeClassifier(m)->parameters())
            parameters += p.numel();
        // Weights plus batch norm's moving statistics (two per channel).
        EXPECT_GE(info.parameters, parameters);
        EXPECT_EQ(info.bytes, fs::file_size(out));
    }
}

TEST_F(OnnxExport, preprocessingIsWrittenAsJsonWithChannelOrder) {
    const ModelConfig m =
        config(Architecture::SmallConvNet, Head::Flatten, Flavour::Standard, 32, 2);
    const std::string out = path("caffe.onnx");
    exportOnnx(weights(m, "caffe.h5", caffePreprocessing()), out);
    const json p = json::parse(describeOnnxFile(out).metadata.at("preprocessing"));
    const Preprocessing caffe = caffePreprocessing();
    EXPECT_EQ(p["name"], "caffe");
    EXPECT_EQ(p["channel_order"], "BGR");
    EXPECT_EQ(p["input_layout"], "NCHW");
    EXPECT_FLOAT_EQ(p["rescale"].get<float>(), caffe.rescale);
    for (int c = 0; c < 3; ++c) {
        EXPECT_FLOAT_EQ(p["mean"][c].get<float>(), caffe.mean[std::size_t(c)]);
        EXPECT_FLOAT_EQ(p["std"][c].get<float>(), caffe.stddev[std::size_t(c)]);
    }
}

TEST_F(OnnxExport, softmaxOptionGivesProbabilitiesAndSaysSo) {
    const ModelConfig m =
        config(Architecture::SmallConvNet, Head::GlobalAveragePool, Flavour::Standard, 32, 4);
    OnnxExportOptions options;
    options.softmax = true;
    const std::string out = path("probs.onnx");
    exportOnnx(weights(m, "w.h5"), out, {}, options);
    const OnnxModelInfo info = describeOnnxFile(out);
    EXPECT_EQ(info.outputs.at(0).name, "probabilities");
    EXPECT_EQ(info.outputs.at(0).dims, dims({"batch", "4"}));
    EXPECT_EQ(json::parse(info.metadata.at("softmax_applied")), json(true));
}

TEST_F(OnnxExport, aFileThatIsNoWeightsIsRefusedAndNothingIsWritten) {
    const std::string bogus = path("notes.h5");
    std::ofstream(bogus) << "not weights";
    const std::string out = path("out.onnx");
    try {
        exportOnnx(bogus, out);
        FAIL() << "exported a text file";
    } catch (const Error& e) {
        EXPECT_EQ(e.subject(), bogus);
    }
    EXPECT_FALSE(fs::exists(out));
}

TEST_F(OnnxExport, aFailedExportLeavesAnEarlierFileAsItWas) {
    const std::string out = path("kept.onnx");
    std::ofstream(out) << "earlier";
    EXPECT_THROW(exportOnnx(path("missing.h5"), out), Error);
    std::ifstream in(out);
    std::string text;
    in >> text;
    EXPECT_EQ(text, "earlier");
}

TEST_F(OnnxExport, aMissingFolderIsRefusedNamingTheFile) {
    const std::string out = path("no/such/folder/model.onnx");
    try {
        exportOnnx(path("never-read.h5"), out);
        FAIL() << "wrote into a missing folder";
    } catch (const Error& e) {
        EXPECT_EQ(e.subject(), out);
        EXPECT_NE(e.reason().find("does not exist"), std::string::npos) << e.what();
    }
}

TEST_F(OnnxExport, aKerasModelWithAnOpenInputSizeNeedsOneAndNamesTheInput) {
    const std::string model = path("open.json");
    std::ofstream(model)
        << json{{"class_name", "Sequential"},
                {"keras_version", "2.2.4"},
                {"config",
                 {{"name", "seq"},
                  {"layers",
                   {{{"class_name", "InputLayer"},
                     {"config",
                      {{"name", "pixels"}, {"batch_input_shape", {nullptr, nullptr, nullptr, 3}}}}},
                    {{"class_name", "Conv2D"},
                     {"config", {{"name", "c"}, {"filters", 2}, {"kernel_size", 3}}}}}}}}}
               .dump();
    KerasOnnxSource source;
    source.modelPath = model;
    source.weightsPath = path("weights.h5");  // never read: the size is checked first
    try {
        exportKerasOnnx(source, path("open.onnx"));
        FAIL() << "exported an input of open size";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("'pixels'"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("input size"), std::string::npos) << e.what();
    }
}

TEST_F(OnnxExport, aKerasModelWithTwoInputsIsRefusedBeforeItsWeightsAreRead) {
    const json input = {{"batch_input_shape", {nullptr, 4}}};
    json a = {{"class_name", "InputLayer"}, {"name", "a"}, {"config", input}};
    json b = {{"class_name", "InputLayer"}, {"name", "b"}, {"config", input}};
    a["config"]["name"] = "a";
    b["config"]["name"] = "b";
    const json add = {
        {"class_name", "Add"},
        {"name", "sum"},
        {"config", {{"name", "sum"}}},
        {"inbound_nodes", {{{"a", 0, 0, json::object()}, {"b", 0, 0, json::object()}}}}};
    const std::string model = path("two.json");
    std::ofstream(model) << json{
        {"class_name", "Model"},
        {"keras_version", "2.2.4"},
        {"config",
         {{"name", "two"},
          {"layers", {a, b, add}},
          {"input_layers", {{"a", 0, 0}, {"b", 0, 0}}},
          {"output_layers",
           {{"sum", 0, 0}}}}}}.dump();
    KerasOnnxSource source;
    source.modelPath = model;
    source.weightsPath = path("absent.h5");
    try {
        exportKerasOnnx(source, path("two.onnx"));
        FAIL() << "exported a model with two inputs";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("2 inputs"), std::string::npos) << e.what();
    }
}

TEST_F(OnnxExport, aKerasBackboneWhoseHeadWasNeverTrainedIsRefused) {
    const std::string modelJson =
        std::string(CONVSCOPE_SHARED_DATA) + "/nsfwjs-4.4.0/mobilenet_v2/model.json";
    if (!fs::exists(modelJson))
        GTEST_SKIP() << modelJson << " is missing (no shared data beside this checkout)";
    WeightsMetadata classes;
    classes.classNames = {"cat", "dog"};
    classes.model.classCount = 2;
    classes.model.head = Head::GlobalAveragePool;
    try {
        exportOnnx(modelJson, path("backbone.onnx"), classes);
        FAIL() << "exported a head of random weights";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("predictions"), std::string::npos) << e.what();
    }
    EXPECT_FALSE(fs::exists(path("backbone.onnx")));
}

TEST_F(OnnxExport, nsfwjsMobileNetV2GivesLogitsUnlessASoftmaxIsAsked) {
    const std::string modelJson =
        std::string(CONVSCOPE_SHARED_DATA) + "/nsfwjs-4.4.0/mobilenet_v2/model.json";
    if (!fs::exists(modelJson))
        GTEST_SKIP() << modelJson << " is missing (no shared data beside this checkout)";
    KerasOnnxSource source;
    source.modelPath = modelJson;
    source.classNames = {"a", "b", "c", "d", "e"};
    const std::string out = path("nsfwjs.onnx");
    // Its last Dense has a softmax of its own: left out, so the output is logits.
    exportKerasOnnx(source, out);
    OnnxModelInfo info = describeOnnxFile(out);
    EXPECT_EQ(info.inputs.at(0).dims, dims({"batch", "3", "224", "224"}));
    EXPECT_EQ(info.outputs.at(0).name, "logits");
    EXPECT_EQ(info.outputs.at(0).dims, dims({"batch", "5"}));
    EXPECT_EQ(json::parse(info.metadata.at("softmax_applied")), json(false));
    EXPECT_EQ(json::parse(info.metadata.at("class_names")), json(source.classNames));
    EXPECT_EQ(json::parse(info.metadata.at("model"))["keras_version"], "2.2.4");

    OnnxExportOptions softmax;
    softmax.softmax = true;
    exportKerasOnnx(source, out, softmax);
    info = describeOnnxFile(out);
    EXPECT_EQ(info.outputs.at(0).name, "probabilities");
    EXPECT_EQ(json::parse(info.metadata.at("softmax_applied")), json(true));

    source.classNames = {"too", "few"};
    EXPECT_THROW(exportKerasOnnx(source, path("few.onnx")), Error);
    EXPECT_FALSE(fs::exists(path("few.onnx")));
}

TEST_F(OnnxExport, describingAFileThatIsNotOnnxFails) {
    const std::string text = path("text.onnx");
    std::ofstream(text) << "\x01\x02 not a protobuf of a model";
    EXPECT_THROW(describeOnnxFile(text), Error);
}
