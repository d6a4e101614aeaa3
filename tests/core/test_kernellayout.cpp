#include "io/kernellayout.h"

#include "error.h"
#include "io/kerasweights.h"
#include "io/modelweights.h"
#include "io/weightsfile.h"
#include "modelhelpers.h"
#include "testimages.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

using namespace convscope;
using namespace convscope::test;

namespace {

ModelConfig config(Architecture a, int size, int classes) {
    ModelConfig c;
    c.architecture = a;
    c.inputSize = size;
    c.classCount = classes;
    c.head = Head::Flatten;
    return c;
}

torch::Tensor tensorOf(const WeightArray& a) {
    return torch::from_blob(const_cast<float*>(a.values.data()), a.shape, torch::kFloat32).clone();
}

void setValues(WeightArray& a, const torch::Tensor& t) {
    const torch::Tensor c = t.contiguous();
    a.shape = c.sizes().vec();
    a.values.assign(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

/// `model`'s weights as Keras 2 with TensorFlow writes them (ConvScope's own file, no metadata).
KerasWeightsFile tensorFlowFile(ClassifierImpl& model, const TempDir& dir) {
    saveModelWeights(dir.file("tf.h5"), model, metadataFor(model.config()));
    KerasWeightsFile file = readKerasWeights(dir.file("tf.h5"));
    file.metadata.clear();
    return file;
}

/// The same weights as a Theano-trained model with 'th' dim ordering holds them: each kernel
/// flipped in both spatial axes (Theano convolves) and stored (out, in, h, w); the first dense
/// layer's rows in (C, H, W) order for feature maps of `channels` x side x side. Keras 1's
/// names when `keras1Names` (convolution2d_1, "convolution2d_1_W", ...).
KerasWeightsFile theanoFile(KerasWeightsFile file, std::int64_t channels, bool keras1Names) {
    file.kerasVersion.clear();
    file.backend = "theano";
    bool firstDense = true;
    int conv = 0, dense = 0;
    for (LayerWeights& layer : file.layers) {
        WeightArray& kernel = layer.weights.front();
        const torch::Tensor k = tensorOf(kernel);
        std::string name;
        if (k.dim() == 4) {
            setValues(kernel, k.flip({0, 1}).permute({3, 2, 0, 1}));
            name = "convolution2d_" + std::to_string(++conv);
        } else {
            name = "dense_" + std::to_string(++dense);
            if (firstDense) {
                const std::int64_t side = std::llround(std::sqrt(double(k.size(0) / channels)));
                setValues(kernel, k.reshape({side, side, channels, k.size(1)})
                                      .permute({2, 0, 1, 3})
                                      .reshape({k.size(0), k.size(1)}));
                firstDense = false;
            }
        }
        if (!keras1Names)
            continue;
        layer.name = name;
        layer.weights[0].name = layer.weights[0].storedName = name + "_W";
        layer.weights[1].name = layer.weights[1].storedName = name + "_b";
    }
    return file;
}

ConvKernelShapes kernel(std::vector<std::int64_t> stored, std::vector<std::int64_t> model) {
    return {"conv", std::move(stored), std::move(model)};
}

}  // namespace

TEST(KernelLayout, theanoOrderedKerasOneFileLoadsEqualToTheTensorFlowOne) {
    TempDir dir;
    const Classifier original = makeClassifier(config(Architecture::SmallConvNet, 32, 3));
    const KerasWeightsFile theano = theanoFile(tensorFlowFile(*original, dir), 64, true);
    ASSERT_EQ(theano.layers[0].weights[0].shape, (std::vector<std::int64_t>{32, 3, 3, 3}));

    const Classifier loaded = makeClassifier(original->config());
    const LoadReport report = loadModelWeights(theano, "keras1.h5", *loaded, /*byName=*/true);
    EXPECT_EQ(report.loaded.size(), 5u);
    const std::string said = describe(report);
    EXPECT_NE(said.find("loaded in order"), std::string::npos) << said;
    EXPECT_NE(said.find("(out, in, h, w)"), std::string::npos) << said;
    EXPECT_NE(said.find("backend 'theano'"), std::string::npos) << said;
    const torch::Tensor x = torch::rand({2, 3, 32, 32});
    EXPECT_TRUE(torch::allclose(logits(*original, x), logits(*loaded, x), 1e-5, 1e-6));
}

TEST(KernelLayout, kerasOneFileWithoutBackendNeedsTheOptionToFlip) {
    TempDir dir;
    const Classifier original = makeClassifier(config(Architecture::SmallConvNet, 32, 3));
    KerasWeightsFile theano = theanoFile(tensorFlowFile(*original, dir), 64, true);
    theano.backend.clear();  // as Keras 1's save_weights wrote it
    const torch::Tensor x = torch::rand({2, 3, 32, 32});

    const Classifier guessed = makeClassifier(original->config());
    const LoadReport report = loadModelWeights(theano, "keras1.h5", *guessed, true);
    EXPECT_NE(describe(report).find("give --kernel-layout theano"), std::string::npos);
    EXPECT_FALSE(torch::allclose(logits(*original, x), logits(*guessed, x), 1e-3, 1e-4));

    const Classifier told = makeClassifier(original->config());
    loadModelWeights(theano, "keras1.h5", *told, true, KernelLayout::Theano);
    EXPECT_TRUE(torch::allclose(logits(*original, x), logits(*told, x), 1e-5, 1e-6));
}

TEST(KernelLayout, weightsFileLoadIntoPassesTheLayoutOn) {
    TempDir dir;
    const Classifier original = makeClassifier(config(Architecture::SmallConvNet, 32, 2));
    KerasWeightsFile theano = theanoFile(tensorFlowFile(*original, dir), 64, true);
    theano.backend.clear();
    writeKerasWeights(dir.file("keras1.h5"), theano);

    const Classifier loaded = makeClassifier(original->config());
    const PretrainedLoad load =
        WeightsFile::open(dir.file("keras1.h5")).loadInto(*loaded, KernelLayout::Theano);
    EXPECT_NE(describe(load.report).find("Theano kernels as asked"), std::string::npos);
    const torch::Tensor x = torch::rand({1, 3, 32, 32});
    EXPECT_TRUE(torch::allclose(logits(*original, x), logits(*loaded, x), 1e-5, 1e-6));
}

TEST(KernelLayout, tensorFlowOptionOverridesTheFilesTheanoBackend) {
    TempDir dir;
    const Classifier original = makeClassifier(config(Architecture::SmallConvNet, 32, 2));
    KerasWeightsFile file = tensorFlowFile(*original, dir);
    file.backend = "theano";  // a Keras 2 file from Theano: (h, w, in, out), flipped
    const torch::Tensor x = torch::rand({1, 3, 32, 32});

    const Classifier asIs = makeClassifier(original->config());
    const LoadReport report =
        loadModelWeights(file, "k2.h5", *asIs, true, KernelLayout::TensorFlow);
    EXPECT_TRUE(torch::allclose(logits(*original, x), logits(*asIs, x), 1e-5, 1e-6));
    EXPECT_NE(describe(report).find("as asked"), std::string::npos);

    const Classifier flipped = makeClassifier(original->config());
    loadModelWeights(file, "k2.h5", *flipped, true);
    const auto before = original->named_parameters()["conv2d.weight"];
    const auto after = flipped->named_parameters()["conv2d.weight"];
    EXPECT_TRUE(torch::equal(before.flip({2, 3}), after));
}

TEST(KernelLayout, denseRowsAfterFlattenAreReorderedForVgg16Fc1) {
    TempDir dir;
    const Classifier original = makeClassifier(config(Architecture::Vgg16, 64, 2));
    const KerasWeightsFile theano = theanoFile(tensorFlowFile(*original, dir), 512, false);
    const Classifier loaded = makeClassifier(original->config());
    loadModelWeights(theano, "vgg16_th.h5", *loaded, /*byName=*/true);
    auto want = original->named_parameters();
    auto got = loaded->named_parameters();
    EXPECT_TRUE(torch::equal(want["fc1.weight"], got["fc1.weight"]));
    EXPECT_TRUE(torch::equal(want["block3_conv2.weight"], got["block3_conv2.weight"]));
    // (C, H, W) row 1 is channel 0 at (0, 1); ConvScope's (H, W, C) puts it at 1 * 512 + 0.
    const torch::Tensor stored = tensorOf(theano.layers[13].weights[0]);
    ASSERT_EQ(theano.layers[13].name, "fc1");
    EXPECT_TRUE(torch::equal(stored[1], got["fc1.weight"].select(1, 512)));
}

TEST(KernelLayout, detectionFollowsTheFilesAttributes) {
    const std::vector<ConvKernelShapes> hwio{kernel({3, 3, 3, 32}, {32, 3, 3, 3})};
    const std::vector<ConvKernelShapes> outInHw{kernel({32, 3, 3, 3}, {32, 3, 3, 3})};
    const auto resolve = [](const std::string& version, const std::string& backend,
                            const std::vector<ConvKernelShapes>& k) {
        return resolveKernelLayout(version, backend, k, KernelLayout::Auto, "w.h5");
    };

    const ResolvedKernelLayout keras2 = resolve("2.11.0", "tensorflow", hwio);
    EXPECT_FALSE(keras2.flipped || keras2.outInHw || keras2.channelsFirstFlatten);
    EXPECT_TRUE(keras2.note.empty());

    const ResolvedKernelLayout keras2Theano = resolve("2.0.8", "theano", hwio);
    EXPECT_TRUE(keras2Theano.flipped);
    EXPECT_FALSE(keras2Theano.outInHw || keras2Theano.channelsFirstFlatten);

    for (const char* version : {"", "1", "1.2.2"}) {
        const ResolvedKernelLayout keras1 = resolve(version, "", outInHw);
        EXPECT_TRUE(keras1.outInHw && keras1.channelsFirstFlatten) << version;
        EXPECT_FALSE(keras1.flipped) << version;
        EXPECT_TRUE(resolve(version, "theano", outInHw).flipped) << version;
        EXPECT_FALSE(resolve(version, "", hwio).outInHw) << version;
    }
    // A Keras 2 file is never (out, in, h, w): its kernels' shapes then simply mismatch.
    EXPECT_FALSE(resolve("2.1.0", "theano", outInHw).outInHw);
}

TEST(KernelLayout, ambiguousShapesKeepTensorFlowsLayoutUnlessTheOptionSaysTheano) {
    const std::vector<ConvKernelShapes> square{kernel({3, 3, 3, 3}, {3, 3, 3, 3})};
    const ResolvedKernelLayout guessed =
        resolveKernelLayout("", "", square, KernelLayout::Auto, "w.h5");
    EXPECT_FALSE(guessed.outInHw);
    EXPECT_NE(guessed.note.find("fit both"), std::string::npos);

    const ResolvedKernelLayout told =
        resolveKernelLayout("", "", square, KernelLayout::Theano, "w.h5");
    EXPECT_TRUE(told.outInHw && told.flipped && told.channelsFirstFlatten);

    const ResolvedKernelLayout plain =
        resolveKernelLayout("", "theano", square, KernelLayout::TensorFlow, "w.h5");
    EXPECT_FALSE(plain.outInHw || plain.flipped || plain.channelsFirstFlatten);
}

TEST(KernelLayout, kernelsInTwoLayoutsAreAnErrorNamingThem) {
    const std::vector<ConvKernelShapes> mixed{{"a", {32, 3, 3, 3}, {32, 3, 3, 3}},
                                              {"b", {3, 3, 32, 64}, {64, 32, 3, 3}}};
    try {
        resolveKernelLayout("", "", mixed, KernelLayout::Auto, "w.h5");
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.subject(), "w.h5");
        EXPECT_NE(e.reason().find("a only fit (out, in, h, w), b only (h, w, in, out)"),
                  std::string::npos)
            << e.reason();
    }
}

TEST(KernelLayout, namesParseAndUnknownOnesAreRefused) {
    for (KernelLayout l : {KernelLayout::Auto, KernelLayout::TensorFlow, KernelLayout::Theano})
        EXPECT_EQ(parseKernelLayout(kernelLayoutName(l)), l);
    EXPECT_THROW(parseKernelLayout("th"), Error);
}
