// One reader for every weights format: WeightsFile tells the format once, reads the file
// once, and answers format, metadata and tensors from that one reading.
#include "io/weightsfile.h"

#include "error.h"
#include "io/kerasweights.h"
#include "io/modelweights.h"
#include "io/pretrained.h"
#include "testimages.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>

using namespace convscope;
using namespace convscope::test;

namespace {

ModelConfig smallModel() {
    ModelConfig c;
    c.inputSize = 32;
    c.classCount = 3;
    return c;
}

std::string savedWeights(const TempDir& dir, const Preprocessing& preprocessing) {
    const std::string path = dir.file("w.h5");
    const Classifier model = makeClassifier(smallModel());
    saveModelWeights(path, *model, {smallModel(), {"cat", "dog", "fox"}, preprocessing});
    return path;
}

}  // namespace

TEST(WeightsFile, convscopeHdf5GivesItsMetadataAndLoadsWhatItSaved) {
    TempDir dir;
    const std::string path = savedWeights(dir, caffePreprocessing());
    const WeightsFile file = WeightsFile::open(path);
    EXPECT_EQ(file.format(), WeightsFormat::Hdf5);
    EXPECT_EQ(file.path(), path);
    ASSERT_TRUE(file.metadata().has_value());
    EXPECT_EQ(file.metadata()->classNames, (std::vector<std::string>{"cat", "dog", "fox"}));
    EXPECT_EQ(file.metadata()->preprocessing, caffePreprocessing());
    EXPECT_EQ(file.statedInputSize(), 32);
    EXPECT_TRUE(file.description().empty());

    const Classifier fresh = makeClassifier(smallModel());
    const PretrainedLoad loaded = file.loadInto(*fresh);
    EXPECT_EQ(loaded.format, WeightsFormat::Hdf5);
    EXPECT_TRUE(loaded.report.notInFile.empty());
    ASSERT_TRUE(loaded.preprocessing.has_value());
    EXPECT_EQ(*loaded.preprocessing, caffePreprocessing());
}

TEST(WeightsFile, theFileIsReadOnceAndServesEveryQuestionAfterItIsGone) {
    TempDir dir;
    const std::string path = savedWeights(dir, rescalePreprocessing());
    const WeightsFile file = WeightsFile::open(path);
    std::filesystem::remove(path);
    // Format, metadata and tensors all come from the one reading.
    EXPECT_EQ(file.format(), WeightsFormat::Hdf5);
    EXPECT_TRUE(file.metadata().has_value());
    const Classifier fresh = makeClassifier(smallModel());
    EXPECT_FALSE(file.loadInto(*fresh).report.loaded.empty());
}

TEST(WeightsFile, openedForMetadataItRefusesToLoadAndSaysWhy) {
    TempDir dir;
    const std::string path = savedWeights(dir, rescalePreprocessing());
    const WeightsFile file = WeightsFile::open(path, WeightsFile::Contents::Metadata);
    ASSERT_TRUE(file.metadata().has_value());
    EXPECT_EQ(file.metadata()->model.classCount, 3);
    const Classifier fresh = makeClassifier(smallModel());
    try {
        file.loadInto(*fresh);
        FAIL() << "loaded weights that were never read";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("metadata only"), std::string::npos) << e.what();
    }
}

TEST(WeightsFile, kerasHdf5WithoutMetadataIsAnHdf5FileWithoutMetadata) {
    TempDir dir;
    KerasWeightsFile keras;
    keras.layers.push_back({"dense_1", {{"kernel:0", "", {2, 3}, std::vector<float>(6, 0.5f)}}});
    writeKerasWeights(dir.file("k.h5"), keras);
    const WeightsFile file = WeightsFile::open(dir.file("k.h5"));
    EXPECT_EQ(file.format(), WeightsFormat::Hdf5);
    EXPECT_FALSE(file.metadata().has_value());
    EXPECT_EQ(file.statedInputSize(), 0);
    EXPECT_EQ(detectWeightsFormat(dir.file("k.h5")), WeightsFormat::Hdf5);
}

TEST(WeightsFile, anythingElseIsRefusedNamingTheFile) {
    TempDir dir;
    std::ofstream(dir.file("notes.txt")) << "not weights";
    std::ofstream(dir.file("empty.h5"));
    for (const std::string name : {"notes.txt", "empty.h5", "missing.h5"}) {
        try {
            WeightsFile::open(dir.file(name));
            FAIL() << name << " was taken for weights";
        } catch (const Error& e) {
            EXPECT_EQ(e.subject(), dir.file(name));
        }
    }
}

TEST(WeightsFile, theFreeFunctionsAgreeWithTheReader) {
    TempDir dir;
    const std::string path = savedWeights(dir, tfPreprocessing());
    EXPECT_EQ(detectWeightsFormat(path), WeightsFormat::Hdf5);
    const auto metadata = readPretrainedMetadata(path);
    ASSERT_TRUE(metadata.has_value());
    EXPECT_EQ(metadata->preprocessing, tfPreprocessing());
    const Classifier fresh = makeClassifier(smallModel());
    EXPECT_EQ(loadPretrainedWeights(path, *fresh).format, WeightsFormat::Hdf5);
}
