// torchvision's vgg16, resnet18 and mobilenet_v2, built and run by Python
// (torchvision_parity.py), loaded from their .pth into ConvScope's models: same logits. Also
// loading "without the top" and refusing the wrong file. Skipped only when Debian's
// torchvision is missing from the PyTorch environment.
#include "io/pretrained.h"
#include "io/torchpth.h"
#include "io/torchvisionweights.h"

#include "error.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

using namespace convscope;
namespace fs = std::filesystem;

namespace {

/// A folder under the build tree (VGG16's file is ~530 MB), removed with everything in it.
class BuildTempDir {
public:
    explicit BuildTempDir(const std::string& name) {
        std::string templ =
            (fs::path(CONVSCOPE_TEST_BINARY_DIR) / ("parity-" + name + "-XXXXXX")).string();
        if (!mkdtemp(templ.data()))
            throw std::runtime_error("mkdtemp failed in " CONVSCOPE_TEST_BINARY_DIR);
        m_path = templ;
    }
    ~BuildTempDir() {
        std::error_code ec;
        fs::remove_all(m_path, ec);
    }
    std::string file(const std::string& name) const { return (fs::path(m_path) / name).string(); }
    const std::string& path() const { return m_path; }

private:
    std::string m_path;
};

torch::Tensor readFloats(const std::string& path, std::vector<std::int64_t> shape) {
    torch::Tensor t = torch::empty(shape, torch::kFloat32);
    std::ifstream in(path, std::ios::binary);
    in.read(reinterpret_cast<char*>(t.data_ptr<float>()), std::streamsize(t.nbytes()));
    if (in.gcount() != std::streamsize(t.nbytes()))
        throw std::runtime_error(path + ": short file");
    return t;
}

std::map<std::string, torch::Tensor> snapshot(ClassifierImpl& model) {
    std::map<std::string, torch::Tensor> out;
    for (const auto& p : model.named_parameters(true))
        out[p.key()] = p.value().detach().clone();
    for (const auto& b : model.named_buffers(true))
        out[b.key()] = b.value().clone();
    return out;
}

bool unchanged(ClassifierImpl& model, const std::map<std::string, torch::Tensor>& before) {
    for (const auto& [name, value] : snapshot(model))
        if (!torch::equal(value, before.at(name)))
            return false;
    return true;
}

/// The output of the last backbone layer.
torch::Tensor backbone(ClassifierImpl& model, const std::string& layer, const torch::Tensor& x) {
    torch::Tensor out;
    const LayerTap tap = [&](const std::string& name, const torch::Tensor& t) {
        if (name == layer)
            out = t.clone();
    };
    torch::NoGradGuard noGrad;
    model.eval();
    model.forward(x, &tap);
    return out;
}

struct Case {
    const char* arch;
    Architecture architecture;
    Head head;
    const char* lastBackboneLayer;
    Head userHead;                        // the head of a model for the user's classes
    std::vector<std::string> headLayers;  // what that model skips for its shapes
    Architecture otherArchitecture;       // a model the file must refuse
};

void PrintTo(const Case& c, std::ostream* os) {
    *os << c.arch;
}

}  // namespace

class TorchvisionParity : public ::testing::TestWithParam<Case> {};

TEST_P(TorchvisionParity, logitsMatchTorchvisionAndTheHeadCanBeLeftBehind) {
    const Case& c = GetParam();
    BuildTempDir dir(c.arch);
    const std::string command = std::string(CONVSCOPE_PYTHON) + " " + CONVSCOPE_TEST_SOURCE_DIR +
                                "/torchvision_parity.py " + c.arch + " " + dir.path();
    const int status = std::system(command.c_str());
    if (WIFEXITED(status) && WEXITSTATUS(status) == 77)
        GTEST_SKIP() << "torchvision is missing";
    ASSERT_EQ(status, 0) << command;
    const std::string pth = dir.file("model.pth");

    // The architecture, head and class count come from the keys alone.
    const auto metadata = readPretrainedMetadata(pth);
    ASSERT_TRUE(metadata.has_value());
    EXPECT_EQ(metadata->model.architecture, c.architecture);
    EXPECT_EQ(metadata->model.head, c.head);
    EXPECT_EQ(metadata->model.classCount, 1000);
    EXPECT_EQ(metadata->model.inputSize, 224);
    EXPECT_EQ(metadata->classNames.at(999), "class_999");
    EXPECT_EQ(metadata->preprocessing.name, "torchvision");

    const Classifier model = makeClassifier(metadata->model);
    const PretrainedLoad loaded = loadPretrainedWeights(pth, *model);
    EXPECT_EQ(loaded.format, WeightsFormat::TorchPth);
    ASSERT_TRUE(loaded.preprocessing.has_value());
    EXPECT_FLOAT_EQ(loaded.preprocessing->stddev[2], 0.225f);
    EXPECT_TRUE(loaded.report.notInFile.empty()) << describe(loaded.report);
    EXPECT_TRUE(loaded.report.notInModel.empty()) << describe(loaded.report);
    EXPECT_TRUE(loaded.report.mismatched.empty()) << describe(loaded.report);

    const torch::Tensor x = readFloats(dir.file("input.f32"), {2, 3, 224, 224});
    const torch::Tensor expected = readFloats(dir.file("logits.f32"), {2, 1000});
    torch::Tensor logits;
    {
        torch::NoGradGuard noGrad;
        model->eval();
        logits = model->forward(x);
    }
    const double maxDiff = (logits - expected).abs().max().item<double>();
    const double maxLogit = expected.abs().max().item<double>();
    std::printf("%s: max |logit difference| %.3g (largest |logit| %.3g)\n", c.arch, maxDiff,
                maxLogit);
    RecordProperty("max_logit_difference", std::to_string(maxDiff));
    EXPECT_LT(maxDiff, 1e-4);

    // Without the top: the user's 5 classes (VGG16 with the Keras blog's flatten head, 256
    // wide, so fc1 differs too and fc2 is not there); every layer but the head loads.
    ModelConfig five = metadata->model;
    five.classCount = 5;
    five.head = c.userHead;
    const Classifier small = makeClassifier(five);
    const PretrainedLoad partial = loadPretrainedWeights(pth, *small);
    EXPECT_EQ(partial.report.loaded.size() + partial.report.mismatched.size() +
                  partial.report.notInModel.size(),
              loaded.report.loaded.size());
    ASSERT_EQ(partial.report.mismatched.size(), c.headLayers.size()) << describe(partial.report);
    for (std::size_t i = 0; i < c.headLayers.size(); ++i)
        EXPECT_EQ(partial.report.mismatched[i].rfind(c.headLayers[i] + ".", 0), 0u)
            << partial.report.mismatched[i];
    EXPECT_NE(describe(partial.report).find("shapes differ"), std::string::npos);
    const torch::Tensor one = x.slice(0, 0, 1);
    EXPECT_TRUE(torch::equal(backbone(*model, c.lastBackboneLayer, one),
                             backbone(*small, c.lastBackboneLayer, one)));

    // The wrong architecture: an error that says so, and the model untouched.
    ModelConfig otherConfig;
    otherConfig.architecture = c.otherArchitecture;
    otherConfig.head = Head::GlobalAveragePool;
    otherConfig.inputSize = 64;
    const Classifier other = makeClassifier(otherConfig);
    const auto before = snapshot(*other);
    try {
        loadPretrainedWeights(pth, *other);
        ADD_FAILURE() << "loaded " << c.arch << " weights into another architecture";
    } catch (const Error& e) {
        EXPECT_NE(e.reason().find(std::string("holds torchvision ")), std::string::npos)
            << e.reason();
    }
    EXPECT_TRUE(unchanged(*other, before));

    // One backbone tensor of the wrong shape: nothing at all is loaded.
    TorchStateDict dict = readTorchStateDict(pth);
    TorchTensorEntry& victim = dict.tensors[dict.tensors.size() / 2];
    victim.value = torch::zeros({3});
    const Classifier fresh = makeClassifier(five);
    const auto freshBefore = snapshot(*fresh);
    try {
        loadTorchvisionWeights(dict, *fresh, pth);
        ADD_FAILURE() << "a damaged backbone loaded";
    } catch (const Error& e) {
        EXPECT_NE(e.reason().find(convscopeTensorName(c.architecture, victim.name)),
                  std::string::npos)
            << e.reason();
        EXPECT_NE(e.reason().find("nothing loaded"), std::string::npos) << e.reason();
    }
    EXPECT_TRUE(unchanged(*fresh, freshBefore));
}

INSTANTIATE_TEST_SUITE_P(Torchvision, TorchvisionParity,
                         ::testing::Values(Case{"resnet18",
                                                Architecture::ResNet18,
                                                Head::GlobalAveragePool,
                                                "layer4",
                                                Head::GlobalAveragePool,
                                                {"fc"},
                                                Architecture::MobileNetV2},
                                           Case{"mobilenetv2",
                                                Architecture::MobileNetV2,
                                                Head::GlobalAveragePool,
                                                "features.18",
                                                Head::GlobalAveragePool,
                                                {"classifier.1"},
                                                Architecture::ResNet18},
                                           Case{"vgg16",
                                                Architecture::Vgg16,
                                                Head::Original,
                                                "block5_pool",
                                                Head::Flatten,
                                                {"fc1", "predictions"},
                                                Architecture::ResNet18}),
                         [](const auto& info) { return std::string(info.param.arch); });
