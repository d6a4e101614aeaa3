#include "data/demodata.h"

#include "data/datasetindex.h"
#include "error.h"
#include "testimages.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <filesystem>

using namespace convscope;
using namespace convscope::test;

namespace {

void writeGzIdx(const std::string& path, const std::vector<int>& dims,
                const std::vector<std::uint8_t>& values) {
    std::vector<std::uint8_t> bytes{0, 0, 0x08, std::uint8_t(dims.size())};
    for (int d : dims)
        for (int s = 24; s >= 0; s -= 8)
            bytes.push_back(std::uint8_t(d >> s));
    bytes.insert(bytes.end(), values.begin(), values.end());
    gzFile f = gzopen(path.c_str(), "wb");
    gzwrite(f, bytes.data(), unsigned(bytes.size()));
    gzclose(f);
}

}  // namespace

TEST(DemoData, writesIdxImagesAsClassFolders) {
    TempDir src;
    TempDir out;
    // 20 images of 2x3 pixels, labels 0..9 twice; pixel value = image number.
    for (const char* prefix : {"train", "t10k"}) {
        std::vector<std::uint8_t> pixels, labels;
        for (int i = 0; i < 20; ++i) {
            pixels.insert(pixels.end(), 6, std::uint8_t(i));
            labels.push_back(std::uint8_t(i % 10));
        }
        writeGzIdx(src.file(std::string(prefix) + "-images-idx3-ubyte.gz"), {20, 2, 3}, pixels);
        writeGzIdx(src.file(std::string(prefix) + "-labels-idx1-ubyte.gz"), {20}, labels);
    }
    DemoDataOptions o;
    o.sourceDir = src.path();
    o.perClassTrain = 2;
    o.perClassValidation = 1;
    const DemoDataSummary s = writeFashionMnistFolders(out.path(), o);
    EXPECT_EQ(s.trainImages, 20);
    EXPECT_EQ(s.validationImages, 10);
    const DatasetIndex index = DatasetIndex::scan(out.path());
    EXPECT_EQ(index.layout(), DatasetLayout::TrainValidationFolders);
    EXPECT_EQ(index.classNames().size(), 10u);
    EXPECT_TRUE(index.report().skipped.empty());
    const auto trouser = std::find(index.classNames().begin(), index.classNames().end(), "trouser");
    ASSERT_NE(trouser, index.classNames().end());
    EXPECT_EQ(index.count(int(trouser - index.classNames().begin()), Split::Train), 2u);
}

TEST(DemoData, missingPackageSaysWhatToInstall) {
    DemoDataOptions o;
    o.sourceDir = "/nonexistent";
    TempDir out;
    try {
        writeFashionMnistFolders(out.path(), o);
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(e.reason().find("dataset-fashion-mnist"), std::string::npos);
    }
}

TEST(DemoData, readsTheRealDebianFashionMnist) {
    const std::string labels = std::string(kFashionMnistDir) + "/t10k-labels-idx1-ubyte.gz";
    if (!std::filesystem::exists(labels))
        GTEST_SKIP() << "dataset-fashion-mnist not installed";
    const IdxData idx = readIdxFile(labels);
    ASSERT_EQ(idx.dims, std::vector<int>{10000});
    std::vector<int> perClass(10, 0);
    for (auto v : idx.values)
        ++perClass.at(v);
    for (int n : perClass)
        EXPECT_EQ(n, 1000);  // the test set is balanced
}
