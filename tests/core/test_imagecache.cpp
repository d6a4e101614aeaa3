#include "data/imagecache.h"

#include "testimages.h"

#include <gtest/gtest.h>

#include <atomic>

using namespace convscope;
using namespace convscope::test;

namespace {

DatasetIndex makeDataset(const TempDir& dir, int perClass) {
    for (int c = 0; c < 2; ++c)
        for (int i = 0; i < perClass; ++i)
            writeImage(dir.file("class" + std::to_string(c) + "/" + std::to_string(i) + ".png"),
                       solidBgr(40 + i, 30, {c * 200.0, double(i), 0}));
    ScanOptions o;
    o.validationFraction = 0;
    return DatasetIndex::scan(dir.path(), o);
}

}  // namespace

TEST(ImageCache, decodesEverySampleOnceAtTheTrainingSize) {
    TempDir dir;
    DatasetIndex index = makeDataset(dir, 5);
    CacheOptions o;
    o.width = 16;
    o.height = 12;
    ImageCache cache(index, o);
    std::size_t lastDone = 0;
    EXPECT_TRUE(cache.decodeAll(nullptr, [&](std::size_t done, std::size_t total) {
        EXPECT_EQ(total, 10u);
        lastDone = done;
    }));
    EXPECT_EQ(lastDone, 10u);
    EXPECT_EQ(cache.cachedCount(), 10u);
    for (std::size_t i = 0; i < index.samples().size(); ++i) {
        const cv::Mat img = cache.image(i);
        ASSERT_EQ(img.size(), cv::Size(16, 12));
        EXPECT_EQ(img.at<cv::Vec3b>(5, 5)[0], index.samples()[i].label * 200);
    }
}

TEST(ImageCache, pastTheMemoryBudgetImagesAreDecodedOnDemand) {
    TempDir dir;
    DatasetIndex index = makeDataset(dir, 5);
    CacheOptions o;
    o.width = o.height = 10;
    o.memoryBudgetBytes = 3 * 10 * 10 * 3;  // room for three images
    ImageCache cache(index, o);
    cache.decodeAll();
    EXPECT_EQ(cache.cachedCount(), 3u);
    EXPECT_EQ(cache.bytesUsed(), 900u);
    const cv::Mat last = cache.image(9);
    EXPECT_EQ(last.size(), cv::Size(10, 10));
    EXPECT_EQ(last.at<cv::Vec3b>(2, 2)[0], 200);
}

TEST(ImageCache, undecodablePixelsMarkTheSampleUnusable) {
    TempDir dir;
    makeDataset(dir, 2);
    // A PNG whose header and IEND are intact but whose compressed data is garbage.
    auto bytes = readBytes(dir.file("class0/0.png"));
    for (std::size_t i = 41; i + 16 < bytes.size(); ++i)
        bytes[i] ^= 0x5A;
    writeBytes(dir.file("class0/0.png"), bytes);
    ScanOptions so;
    so.validationFraction = 0;
    DatasetIndex index = DatasetIndex::scan(dir.path(), so);
    ASSERT_EQ(index.usableCount(), 4u);
    ImageCache cache(index, CacheOptions{});
    cache.decodeAll();
    EXPECT_EQ(index.usableCount(), 3u);
    ASSERT_EQ(index.report().skipped.size(), 1u);
    EXPECT_EQ(index.report().skipped[0].path, "class0/0.png");
    EXPECT_NE(index.report().skipped[0].reason.find("corrupt PNG"), std::string::npos)
        << index.report().skipped[0].reason;
}

TEST(ImageCache, cancellationStopsDecoding) {
    TempDir dir;
    DatasetIndex index = makeDataset(dir, 20);
    CacheOptions o;
    o.threads = 1;
    ImageCache cache(index, o);
    std::atomic<bool> cancel{true};
    EXPECT_FALSE(cache.decodeAll(&cancel));
    EXPECT_LT(cache.cachedCount(), 40u);
}
