#include "io/kerasweights.h"

#include "error.h"
#include "testimages.h"

#include <H5Cpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <thread>

using namespace convscope;
using namespace convscope::test;
namespace fs = std::filesystem;

namespace {

WeightArray array(const std::string& name, std::vector<std::int64_t> shape, float offset) {
    WeightArray a;
    a.name = name;
    a.shape = std::move(shape);
    std::size_t count = 1;
    for (auto d : a.shape)
        count *= std::size_t(d);
    for (std::size_t i = 0; i < count; ++i)
        a.values.push_back(offset + float(i) * 0.125f - 3.0f);
    return a;
}

KerasWeightsFile sampleFile() {
    KerasWeightsFile file;
    file.layers.push_back(
        {"block1_conv1", {array("kernel:0", {3, 3, 3, 8}, 0.5f), array("bias:0", {8}, 1)}});
    file.layers.push_back({"block1_bn",
                           {array("gamma:0", {8}, 2), array("beta:0", {8}, 3),
                            array("moving_mean:0", {8}, 4), array("moving_variance:0", {8}, 5)}});
    file.layers.push_back({"block1_pool", {}});
    file.layers.push_back({"predictions", {array("kernel:0", {8, 3}, 6), array("bias:0", {3}, 7)}});
    file.metadata["architecture"] = "small_cnn";
    file.metadata["class_names"] = R"(["cats","dogs","émeus"])";
    file.metadata["input_size"] = "64";
    file.metadata["preprocessing"] = R"({"name":"rescale","rescale":0.00392156862745098})";
    return file;
}

std::vector<std::string> filesIn(const std::string& folder) {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(folder))
        names.push_back(entry.path().filename().string());
    return names;
}

/// The convscope::Error's reason of `f`, or a note that none was thrown.
std::string reasonOf(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.reason();
    }
    return "(no error)";
}

void writeVariableLengthNames(const H5::H5Object& where, const std::string& attribute,
                              const std::vector<std::string>& names) {
    H5::StrType type(H5::PredType::C_S1, H5T_VARIABLE);
    type.setCset(H5T_CSET_UTF8);
    std::vector<const char*> pointers;
    for (const auto& n : names)
        pointers.push_back(n.c_str());
    const hsize_t count = names.size();
    where.createAttribute(attribute, type, H5::DataSpace(1, &count)).write(type, pointers.data());
}

}  // namespace

TEST(KerasWeights, roundTripKeepsLayersValuesAndMetadata) {
    TempDir dir;
    const std::string path = dir.file("weights.h5");
    const KerasWeightsFile written = sampleFile();
    writeKerasWeights(path, written);
    const KerasWeightsFile read = readKerasWeights(path);

    EXPECT_EQ(read.metadata, written.metadata);
    EXPECT_EQ(read.kerasVersion, "2.11.0");
    EXPECT_EQ(read.backend, "tensorflow");
    ASSERT_EQ(read.layers.size(), written.layers.size());
    for (std::size_t l = 0; l < read.layers.size(); ++l) {
        const LayerWeights& a = read.layers[l];
        const LayerWeights& b = written.layers[l];
        EXPECT_EQ(a.name, b.name);
        ASSERT_EQ(a.weights.size(), b.weights.size()) << a.name;
        for (std::size_t w = 0; w < a.weights.size(); ++w) {
            EXPECT_EQ(a.weights[w].name, b.weights[w].name);
            EXPECT_EQ(a.weights[w].storedName, b.name + "/" + b.weights[w].name);
            EXPECT_EQ(a.weights[w].shape, b.weights[w].shape);
            EXPECT_EQ(a.weights[w].values, b.weights[w].values)
                << a.name << "/" << a.weights[w].name;
        }
    }
    EXPECT_TRUE(read.layers[2].weights.empty());
    EXPECT_EQ(read.layers[0].weights[0].shape, (std::vector<std::int64_t>{3, 3, 3, 8}));
}

TEST(KerasWeights, scalarsEmptyArraysAndStoredNamesRoundTrip) {
    TempDir dir;
    KerasWeightsFile file;
    WeightArray scalar = array("count:0", {}, 41);
    WeightArray empty = array("empty:0", {0, 4}, 0);
    WeightArray nested = array("ignored", {2}, 1);
    nested.storedName = "backbone_block/conv/kernel:0";
    file.layers.push_back({"backbone", {scalar, empty, nested}});
    writeKerasWeights(dir.file("w.h5"), file);

    const KerasWeightsFile read = readKerasWeights(dir.file("w.h5"));
    ASSERT_EQ(read.layers.at(0).weights.size(), 3u);
    const auto& w = read.layers[0].weights;
    EXPECT_TRUE(w[0].shape.empty());
    EXPECT_EQ(w[0].values, scalar.values);
    EXPECT_EQ(w[1].shape, (std::vector<std::int64_t>{0, 4}));
    EXPECT_TRUE(w[1].values.empty());
    EXPECT_EQ(w[2].storedName, "backbone_block/conv/kernel:0");
    EXPECT_EQ(w[2].name, "conv/kernel:0");
    EXPECT_EQ(w[2].values, nested.values);
}

TEST(KerasWeights, metadataLongerThanAnObjectHeaderRoundTrips) {
    TempDir dir;
    KerasWeightsFile file = sampleFile();
    std::string names = "[";
    for (int i = 0; i < 10000; ++i)
        names += (i ? ",\"class_" : "\"class_") + std::to_string(i) + "\"";
    file.metadata["class_names"] = names + "]";
    ASSERT_GT(file.metadata["class_names"].size(), 64512u);
    writeKerasWeights(dir.file("w.h5"), file);
    EXPECT_EQ(readKerasWeights(dir.file("w.h5")).metadata, file.metadata);
}

TEST(KerasWeights, numericMetadataWrittenByOthersIsReadAsText) {
    TempDir dir;
    writeKerasWeights(dir.file("w.h5"), sampleFile());
    {
        H5::H5File h5(dir.file("w.h5"), H5F_ACC_RDWR);
        const long long size = 224;
        h5.createAttribute("convscope_batch_size", H5::PredType::STD_I64LE,
                           H5::DataSpace(H5S_SCALAR))
            .write(H5::PredType::NATIVE_LLONG, &size);
        const double rescale = 0.5;
        h5.createAttribute("convscope_rescale", H5::PredType::IEEE_F64LE, H5::DataSpace(H5S_SCALAR))
            .write(H5::PredType::NATIVE_DOUBLE, &rescale);
    }
    const KerasWeightsFile read = readKerasWeights(dir.file("w.h5"));
    EXPECT_EQ(read.metadata.at("batch_size"), "224");
    EXPECT_EQ(read.metadata.at("rescale"), "0.5");
}

TEST(KerasWeights, longLayerListsAreSplitOverSeveralAttributesAsKerasDoes) {
    TempDir dir;
    KerasWeightsFile file;
    for (int i = 0; i < 3000; ++i)
        file.layers.push_back({"a_rather_long_layer_name_number_" + std::to_string(i), {}});
    file.layers.back().weights.push_back(array("bias:0", {2}, 0));
    writeKerasWeights(dir.file("w.h5"), file);

    {
        H5::H5File h5(dir.file("w.h5"), H5F_ACC_RDONLY);
        EXPECT_FALSE(h5.attrExists("layer_names"));
        EXPECT_TRUE(h5.attrExists("layer_names0"));
        EXPECT_TRUE(h5.attrExists("layer_names1"));
        EXPECT_FALSE(h5.attrExists("layer_names2"));
    }
    const KerasWeightsFile read = readKerasWeights(dir.file("w.h5"));
    ASSERT_EQ(read.layers.size(), 3000u);
    for (std::size_t i = 0; i < read.layers.size(); ++i)
        ASSERT_EQ(read.layers[i].name, file.layers[i].name);
    EXPECT_EQ(read.layers.back().weights.at(0).values, file.layers.back().weights[0].values);
}

TEST(KerasWeights, failedWriteLeavesTheOldFileAndNoTemporaryFile) {
    TempDir dir;
    const std::string path = dir.file("weights.h5");
    writeKerasWeights(path, sampleFile());
    const std::vector<std::uint8_t> before = readBytes(path);

    // Groups are written in name order, so the broken layer comes after good ones were written.
    KerasWeightsFile broken = sampleFile();
    broken.layers.push_back({"zz_dense", {array("kernel:0", {4, 2}, 0)}});
    broken.layers.back().weights[0].values.pop_back();
    EXPECT_EQ(
        reasonOf([&] { writeKerasWeights(path, broken); }),
        "layer 'zz_dense', weight 'zz_dense/kernel:0': 7 values for shape (4, 2) (8 expected)");

    EXPECT_EQ(readBytes(path), before);
    EXPECT_EQ(filesIn(dir.path()), (std::vector<std::string>{"weights.h5"}));
    EXPECT_EQ(readKerasWeights(path).layers.size(), 4u);
}

TEST(KerasWeights, unusableNamesAreRefusedAndNothingIsWritten) {
    TempDir dir;
    const std::string path = dir.file("weights.h5");
    KerasWeightsFile slash;
    slash.layers.push_back({"a/b", {}});
    EXPECT_EQ(reasonOf([&] { writeKerasWeights(path, slash); }),
              "layer name 'a/b' is not usable as a group name");
    KerasWeightsFile twice;
    twice.layers = {{"conv", {}}, {"conv", {}}};
    EXPECT_EQ(reasonOf([&] { writeKerasWeights(path, twice); }), "two layers are named 'conv'");
    KerasWeightsFile sameWeight;
    sameWeight.layers.push_back({"conv", {array("kernel:0", {1}, 0), array("kernel:0", {1}, 0)}});
    EXPECT_EQ(reasonOf([&] { writeKerasWeights(path, sameWeight); }),
              "layer 'conv' has two weights named 'conv/kernel:0'");
    EXPECT_TRUE(filesIn(dir.path()).empty());
}

TEST(KerasWeights, writingIntoAMissingFolderIsAnError) {
    TempDir dir;
    EXPECT_EQ(reasonOf([&] { writeKerasWeights(dir.path() + "/nowhere/w.h5", sampleFile()); }),
              "the folder does not exist");
}

TEST(KerasWeights, missingFileIsReported) {
    TempDir dir;
    EXPECT_EQ(reasonOf([&] { readKerasWeights(dir.path() + "/absent.h5"); }), "file not found");
}

TEST(KerasWeights, emptyFileIsReported) {
    TempDir dir;
    writeBytes(dir.file("empty.h5"), {});
    EXPECT_EQ(reasonOf([&] { readKerasWeights(dir.file("empty.h5")); }), "empty file (0 bytes)");
}

TEST(KerasWeights, truncatedFileIsReportedWithItsSizes) {
    TempDir dir;
    writeKerasWeights(dir.file("good.h5"), sampleFile());
    std::vector<std::uint8_t> bytes = readBytes(dir.file("good.h5"));
    const std::size_t full = bytes.size();
    bytes.resize(full / 2);
    writeBytes(dir.file("cut.h5"), bytes);
    try {
        readKerasWeights(dir.file("cut.h5"));
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.subject(), dir.file("cut.h5"));
        EXPECT_EQ(e.reason(), "truncated HDF5 file (" + std::to_string(full / 2) + " of " +
                                  std::to_string(full) + " bytes)");
    }
}

TEST(KerasWeights, textFileIsNotHdf5) {
    TempDir dir;
    writeBytes(dir.file("notes.h5"), {'l', 'a', 'y', 'e', 'r', '_', 'n', 'a', 'm', 'e', 's', '\n'});
    EXPECT_EQ(reasonOf([&] { readKerasWeights(dir.file("notes.h5")); }),
              "not an HDF5 file (no HDF5 signature)");
}

TEST(KerasWeights, hdf5FileWithoutLayerNamesIsNotAKerasWeightsFile) {
    TempDir dir;
    {
        H5::H5File h5(dir.file("other.h5"), H5F_ACC_TRUNC);
        const hsize_t n = 4;
        const float values[4] = {1, 2, 3, 4};
        h5.createDataSet("data", H5::PredType::IEEE_F32LE, H5::DataSpace(1, &n))
            .write(values, H5::PredType::NATIVE_FLOAT);
    }
    EXPECT_EQ(reasonOf([&] { readKerasWeights(dir.file("other.h5")); }),
              "not a Keras weights file (no layer_names attribute)");
}

TEST(KerasWeights, errorsPrintNothingToStderr) {
    TempDir dir;
    writeKerasWeights(dir.file("good.h5"), sampleFile());
    std::vector<std::uint8_t> bytes = readBytes(dir.file("good.h5"));
    bytes.resize(bytes.size() / 2);
    writeBytes(dir.file("cut.h5"), bytes);
    testing::internal::CaptureStderr();
    EXPECT_THROW(readKerasWeights(dir.file("cut.h5")), Error);
    EXPECT_THROW(writeKerasWeights(dir.path() + "/nowhere/w.h5", sampleFile()), Error);
    EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
}

TEST(KerasWeights, variableLengthNamesForeignPrefixesAndFloat64AreRead) {
    TempDir dir;
    {
        H5::H5File h5(dir.file("keras.h5"), H5F_ACC_TRUNC);
        writeVariableLengthNames(h5, "layer_names", {"dense", "flatten"});
        H5::Group dense = h5.createGroup("dense");
        writeVariableLengthNames(dense, "weight_names", {"dense_1/kernel:0", "dense_1/bias:0"});
        H5::LinkCreatPropList links;
        links.setCreateIntermediateGroup(true);
        const hsize_t kernelDims[2] = {3, 2};
        const double kernel[6] = {0.5, -1.25, 2, 3, 1e-3, -7};
        dense
            .createDataSet("dense_1/kernel:0", H5::PredType::IEEE_F64LE,
                           H5::DataSpace(2, kernelDims), H5::DSetCreatPropList::DEFAULT,
                           H5::DSetAccPropList::DEFAULT, links)
            .write(kernel, H5::PredType::NATIVE_DOUBLE);
        const hsize_t biasDims = 2;
        const float bias[2] = {0.25f, -0.5f};
        dense
            .createDataSet("dense_1/bias:0", H5::PredType::IEEE_F32LE, H5::DataSpace(1, &biasDims),
                           H5::DSetCreatPropList::DEFAULT, H5::DSetAccPropList::DEFAULT, links)
            .write(bias, H5::PredType::NATIVE_FLOAT);
        h5.createGroup("flatten");  // no weight_names at all: Keras reads that as no weights
    }
    const KerasWeightsFile read = readKerasWeights(dir.file("keras.h5"));
    ASSERT_EQ(read.layers.size(), 2u);
    EXPECT_EQ(read.kerasVersion, "");
    const auto& dense = read.layers[0];
    ASSERT_EQ(dense.weights.size(), 2u);
    EXPECT_EQ(dense.weights[0].name, "kernel:0");
    EXPECT_EQ(dense.weights[0].storedName, "dense_1/kernel:0");
    EXPECT_EQ(dense.weights[0].shape, (std::vector<std::int64_t>{3, 2}));
    EXPECT_EQ(dense.weights[0].values, (std::vector<float>{0.5f, -1.25f, 2, 3, 1e-3f, -7}));
    EXPECT_EQ(dense.weights[1].name, "bias:0");
    EXPECT_TRUE(read.layers[1].weights.empty());
}

TEST(KerasWeights, aListedLayerWithoutGroupIsReported) {
    TempDir dir;
    {
        H5::H5File h5(dir.file("broken.h5"), H5F_ACC_TRUNC);
        writeVariableLengthNames(h5, "layer_names", {"conv"});
    }
    EXPECT_EQ(reasonOf([&] { readKerasWeights(dir.file("broken.h5")); }),
              "layer 'conv' is listed in layer_names, but there is no such group");
}

TEST(KerasWeights, aListedWeightWithoutDatasetIsReportedWithItsLayer) {
    TempDir dir;
    {
        H5::H5File h5(dir.file("broken.h5"), H5F_ACC_TRUNC);
        writeVariableLengthNames(h5, "layer_names", {"conv"});
        writeVariableLengthNames(h5.createGroup("conv"), "weight_names", {"conv/kernel:0"});
    }
    EXPECT_EQ(reasonOf([&] { readKerasWeights(dir.file("broken.h5")); }),
              "layer 'conv', weight 'conv/kernel:0': listed in weight_names, but there is no such "
              "dataset");
}

TEST(KerasWeights, threadsCanReadAndWriteAtTheSameTime) {
    TempDir dir;
    writeKerasWeights(dir.file("shared.h5"), sampleFile());
    std::vector<std::thread> threads;
    std::atomic<int> good{0};
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 10; ++i) {
                writeKerasWeights(dir.file("own_" + std::to_string(t) + ".h5"), sampleFile());
                if (readKerasWeights(dir.file("shared.h5")).layers.size() == 4)
                    ++good;
            }
        });
    }
    for (auto& thread : threads)
        thread.join();
    EXPECT_EQ(good, 40);
}
