#include "io/modelweights.h"

#include "error.h"
#include "io/kerasweights.h"
#include "modelhelpers.h"
#include "testimages.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>

using namespace convscope;
using namespace convscope::test;

namespace {

ModelConfig config(Architecture a, int size, int classes, Head head = Head::Flatten) {
    ModelConfig c;
    c.architecture = a;
    c.inputSize = size;
    c.classCount = classes;
    c.head = head;
    return c;
}

}  // namespace

class WeightsRoundTrip : public ::testing::TestWithParam<ModelConfig> {};

TEST_P(WeightsRoundTrip, savedWeightsReloadToTheSameOutputs) {
    TempDir dir;
    const std::string path = dir.file("w.h5");
    const Classifier a = makeClassifier(GetParam());
    const Classifier b = makeClassifier(GetParam());
    {
        // Give batch-norm statistics non-default values, so that buffers are checked too.
        torch::NoGradGuard noGrad;
        for (auto& buffer : a->named_buffers())
            if (buffer.key().find("running_") != std::string::npos)
                buffer.value().uniform_(0.5, 1.5);
    }
    saveModelWeights(path, *a, metadataFor(GetParam()));
    const LoadReport report = loadModelWeights(path, *b, /*byName=*/false);
    EXPECT_TRUE(report.notInFile.empty());
    ASSERT_TRUE(report.metadata.has_value());
    EXPECT_EQ(report.metadata->model.architecture, GetParam().architecture);
    const torch::Tensor x = torch::rand({2, 3, GetParam().inputSize, GetParam().inputSize});
    EXPECT_TRUE(torch::allclose(logits(*a, x), logits(*b, x), 1e-5, 1e-6));
}

INSTANTIATE_TEST_SUITE_P(
    All, WeightsRoundTrip,
    ::testing::Values(config(Architecture::SmallConvNet, 32, 3),
                      config(Architecture::Vgg16, 32, 2, Head::GlobalAveragePool),
                      config(Architecture::ResNet18, 32, 4, Head::GlobalAveragePool),
                      config(Architecture::MobileNetV2, 32, 5, Head::GlobalAveragePool)));

TEST(ModelWeights, kerasLayoutIsHwioForConvAndInOutForDense) {
    TempDir dir;
    const Classifier model = makeClassifier(config(Architecture::SmallConvNet, 32, 3));
    saveModelWeights(dir.file("w.h5"), *model, metadataFor(model->config()));
    const KerasWeightsFile file = readKerasWeights(dir.file("w.h5"));
    ASSERT_EQ(file.layers.size(), 5u);
    EXPECT_EQ(file.layers[0].weights[0].name, "kernel:0");
    EXPECT_EQ(file.layers[0].weights[0].shape, (std::vector<std::int64_t>{3, 3, 3, 32}));
    // The value at kernel[h=1][w=2][in=0][out=5] is torch weight[5][0][1][2].
    const float expected = model->named_parameters()["conv2d.weight"][5][0][1][2].item<float>();
    EXPECT_FLOAT_EQ(file.layers[0].weights[0].values[((1 * 3 + 2) * 3 + 0) * 32 + 5], expected);
    EXPECT_EQ(file.layers[4].name, "dense_1");
    EXPECT_EQ(file.layers[4].weights[0].shape, (std::vector<std::int64_t>{64, 3}));
}

TEST(ModelWeights, aShapeMismatchNamesTheLayerAndLoadsNothing) {
    TempDir dir;
    const Classifier three = makeClassifier(config(Architecture::SmallConvNet, 32, 3));
    saveModelWeights(dir.file("w.h5"), *three, metadataFor(three->config()));
    const Classifier five = makeClassifier(config(Architecture::SmallConvNet, 32, 5));
    const torch::Tensor before = five->named_parameters()["conv2d.weight"].clone();
    try {
        loadModelWeights(dir.file("w.h5"), *five, true);
        FAIL() << "a 3-class file loaded into a 5-class model";
    } catch (const Error& e) {
        EXPECT_NE(e.reason().find("dense_1/kernel:0"), std::string::npos) << e.reason();
        EXPECT_NE(e.reason().find("nothing loaded"), std::string::npos) << e.reason();
    }
    EXPECT_TRUE(torch::equal(before, five->named_parameters()["conv2d.weight"]));
}

TEST(ModelWeights, byNameSkipsWhatTheOtherSideLacks) {
    TempDir dir;
    // No layer of a small-net file is named like a VGG16 layer: an error, not an empty load.
    // Another model of the same kind takes every layer.
    const Classifier gap =
        makeClassifier(config(Architecture::SmallConvNet, 32, 3, Head::GlobalAveragePool));
    saveModelWeights(dir.file("w.h5"), *gap, metadataFor(gap->config()));
    const Classifier vgg = makeClassifier(config(Architecture::Vgg16, 32, 3));
    try {
        loadModelWeights(dir.file("w.h5"), *vgg, true);
        FAIL() << "a small-net file matched VGG16";
    } catch (const Error& e) {
        EXPECT_NE(e.reason().find("wrong architecture"), std::string::npos) << e.reason();
    }
    const Classifier other =
        makeClassifier(config(Architecture::SmallConvNet, 32, 3, Head::GlobalAveragePool));
    const LoadReport r = loadModelWeights(dir.file("w.h5"), *other, true);
    EXPECT_EQ(r.loaded.size(), 4u);
    EXPECT_TRUE(r.notInModel.empty());
}

TEST(ModelWeights, aWriteThatFailsPartWayIsAnErrorAndLeavesTheOldFile) {
    // A full disk (here: a file size limit) used to crash in HDF5's close, after it printed
    // "H5Fclose failed" from its destructors.
    TempDir dir;
    const Classifier model = makeClassifier(config(Architecture::SmallConvNet, 64, 2));
    const std::string path = dir.file("run/latest.h5");
    saveModelWeights(path, *model, metadataFor(model->config()));
    const auto before = readBytes(path);
    torch::NoGradGuard noGrad;
    for (auto& p : model->parameters())
        p.add_(1.0);
    {
        const FileSizeLimit full(before.size() / 3);
        try {
            saveModelWeights(path, *model, metadataFor(model->config()));
            FAIL() << "the write went through";
        } catch (const Error& e) {
            EXPECT_EQ(e.subject(), path);
            EXPECT_EQ(e.reason(), "cannot write (File too large)");
        }
    }
    EXPECT_EQ(readBytes(path), before);
    EXPECT_EQ(listFolder(dir.file("run")), std::vector<std::string>{"latest.h5"});
}

TEST(ModelWeights, damagedFilesAreClearErrors) {
    TempDir dir;
    const Classifier model = makeClassifier(config(Architecture::SmallConvNet, 32, 2));
    std::ofstream(dir.file("text.h5")) << "hello";
    EXPECT_THROW(loadModelWeights(dir.file("text.h5"), *model, true), Error);
    EXPECT_THROW(loadModelWeights(dir.file("missing.h5"), *model, true), Error);
    saveModelWeights(dir.file("good.h5"), *model, metadataFor(model->config()));
    auto bytes = readBytes(dir.file("good.h5"));
    bytes.resize(bytes.size() / 2);
    writeBytes(dir.file("half.h5"), bytes);
    try {
        loadModelWeights(dir.file("half.h5"), *model, true);
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.subject(), dir.file("half.h5"));
    }
}
