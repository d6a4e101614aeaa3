#include "data/decodedstore.h"
#include "util/text.h"
#include "data/imagecache.h"
#include "error.h"

#include "testimages.h"

#include <gtest/gtest.h>
#include <opencv2/core.hpp>

#include <filesystem>
#include <cstdlib>

using namespace convscope;
using namespace convscope::test;
namespace fs = std::filesystem;

namespace {

constexpr int kSide = 16;

struct Dataset {
    TempDir dir;
    std::string root;
    std::string store;
    Dataset(int perClass = 4) {
        root = dir.file("data");
        store = dir.file("store");
        for (int c = 0; c < 2; ++c)
            for (int i = 0; i < perClass; ++i)
                writeImage(
                    dir.file("data/class" + std::to_string(c) + "/" + std::to_string(i) + ".png"),
                    solidBgr(40 + i, 30, {c * 200.0, double(i * 20), 90}));
    }
    DatasetIndex scan() const {
        ScanOptions o;
        o.validationFraction = 0;
        return DatasetIndex::scan(root, o);
    }
};

CacheOptions withStore(const std::string& store, int side = kSide) {
    CacheOptions o;
    o.width = o.height = side;
    o.storeDirectory = store;
    return o;
}

// Every image of `cache` equal to what decoding without a store gives.
void expectSameAsFreshDecode(const ImageCache& cache, DatasetIndex& index) {
    CacheOptions plain;
    plain.width = cache.width();
    plain.height = cache.height();
    DatasetIndex again = DatasetIndex::scan(index.root(), [] {
        ScanOptions o;
        o.validationFraction = 0;
        return o;
    }());
    ImageCache fresh(again, plain);
    ASSERT_TRUE(fresh.decodeAll());
    ASSERT_EQ(index.samples().size(), again.samples().size());
    for (std::size_t i = 0; i < index.samples().size(); ++i) {
        const cv::Mat a = cache.image(i), b = fresh.image(i);
        EXPECT_EQ(cv::norm(a, b, cv::NORM_INF), 0.0) << index.samples()[i].path;
    }
}

StoreUse decodeOnce(const Dataset& d, int side = kSide) {
    DatasetIndex index = d.scan();
    ImageCache cache(index, withStore(d.store, side));
    EXPECT_TRUE(cache.decodeAll());
    expectSameAsFreshDecode(cache, index);
    return cache.storeUse();
}

void flipByte(const std::string& path, std::uint64_t offset) {
    std::vector<std::uint8_t> bytes = readBytes(path);
    ASSERT_LT(offset, bytes.size());
    bytes[offset] ^= 0x5a;
    writeBytes(path, bytes);
}

}  // namespace

TEST(DecodedStore, aSecondDecodeReadsEveryImageFromTheStoreWithTheSamePixels) {
    Dataset d;
    const StoreUse first = decodeOnce(d);
    EXPECT_EQ(first.decoded, 8u);
    EXPECT_EQ(first.fromStore, 0u);
    EXPECT_TRUE(first.written) << first.writeProblem;
    EXPECT_TRUE(fs::exists(first.packPath));
    EXPECT_EQ(first.problem, "");  // no pack yet is not a problem

    const StoreUse second = decodeOnce(d);
    EXPECT_EQ(second.fromStore, 8u);
    EXPECT_EQ(second.decoded, 0u);
    EXPECT_FALSE(second.written);  // unchanged: not rewritten
    EXPECT_EQ(second.packPath, first.packPath);
    EXPECT_NE(storeUseText(second).find("8 images read from"), std::string::npos)
        << storeUseText(second);
}

TEST(DecodedStore, aChangedFileIsDecodedAfreshAndTheStoreUpdated) {
    Dataset d;
    decodeOnce(d);
    // New pixels, same name: its size or modification time differs from the stored stamp.
    const std::string changed = d.dir.file("data/class1/2.png");
    writeImage(changed, solidBgr(55, 41, {10, 250, 10}));
    fs::last_write_time(changed, fs::last_write_time(changed) + std::chrono::seconds(3));
    writeImage(d.dir.file("data/class0/new.png"), solidBgr(20, 20, {1, 2, 3}));

    const StoreUse use = decodeOnce(d);  // compares every pixel with a fresh decode
    EXPECT_EQ(use.fromStore, 7u);
    EXPECT_EQ(use.decoded, 2u);
    EXPECT_TRUE(use.written);
    const StoreUse after = decodeOnce(d);
    EXPECT_EQ(after.fromStore, 9u);
    EXPECT_EQ(after.decoded, 0u);
}

TEST(DecodedStore, otherDecodeSettingsGetTheirOwnPack) {
    Dataset d;
    const StoreUse small = decodeOnce(d, 16);
    const StoreUse large = decodeOnce(d, 24);
    EXPECT_NE(small.packPath, large.packPath);
    EXPECT_EQ(large.decoded, 8u);
    EXPECT_EQ(decodeOnce(d, 16).fromStore, 8u);
    EXPECT_EQ(DecodedStore(d.store).packs().size(), 2u);
}

TEST(DecodedStore, anImageThatFailsItsChecksumIsDecodedAgainNeverTrusted) {
    Dataset d;
    const StoreUse first = decodeOnce(d);
    // A byte inside the third image's pixels (after the 64-byte header).
    flipByte(first.packPath, 64 + 2 * kSide * kSide * 3 + 100);
    const StoreUse use = decodeOnce(d);  // the pixels match a fresh decode, not the damage
    EXPECT_EQ(use.damaged, 1u);
    EXPECT_EQ(use.decoded, 1u);
    EXPECT_EQ(use.fromStore, 7u);
    EXPECT_TRUE(use.written);
    EXPECT_NE(storeUseText(use).find("7 images read from " + first.packPath +
                                     ", 1 decoded (1 of them failed their checksum"),
              std::string::npos)
        << storeUseText(use);
    EXPECT_EQ(decodeOnce(d).fromStore, 8u);  // rebuilt
}

TEST(DecodedStore, aDamagedOrCutPackIsReportedAndRebuilt) {
    Dataset d;
    const std::string pack = decodeOnce(d).packPath;
    const auto size = fs::file_size(pack);

    fs::resize_file(pack, size - 10);
    StoreUse use = decodeOnce(d);
    EXPECT_EQ(use.problem, "damaged (cut short)");
    EXPECT_EQ(use.decoded, 8u);
    EXPECT_TRUE(use.written);
    EXPECT_EQ(fs::file_size(pack), size);

    flipByte(pack, 20);  // the header
    use = decodeOnce(d);
    EXPECT_EQ(use.problem, "damaged (its header does not match its checksum)");
    EXPECT_EQ(use.decoded, 8u);

    flipByte(pack, size - 30);  // the index
    use = decodeOnce(d);
    EXPECT_EQ(use.problem, "damaged (its index does not match its checksum)");
    EXPECT_NE(storeUseText(use).find("was damaged"), std::string::npos);

    writeBytes(pack, {1, 2, 3});
    EXPECT_EQ(decodeOnce(d).problem, "damaged (shorter than its header)");
    EXPECT_EQ(decodeOnce(d).fromStore, 8u);
}

TEST(DecodedStore, decoderWarningsAreReportedAgainFromTheStore) {
    Dataset d;
    const std::string cut = d.dir.file("data/class0/cut.jpg");
    writeImage(cut, patternBgr(64, 48));
    auto jpeg = readBytes(cut);
    jpeg.erase(jpeg.end() - 2 - std::ptrdiff_t(jpeg.size() / 3), jpeg.end() - 2);
    writeBytes(cut, jpeg);
    std::vector<std::string> warnings[2];
    for (auto& w : warnings) {
        DatasetIndex index = d.scan();
        ImageCache cache(index, withStore(d.store));
        ASSERT_TRUE(cache.decodeAll());
        w = index.report().warnings;
    }
    ASSERT_EQ(warnings[0].size(), 1u);
    EXPECT_NE(warnings[0][0].find("Corrupt JPEG data"), std::string::npos) << warnings[0][0];
    EXPECT_EQ(warnings[1], warnings[0]);
}

TEST(DecodedStore, theLeastRecentlyUsedPacksGoWhenTheLimitIsPassed) {
    Dataset a, b;
    const DecodedStore store(a.store);
    b.store = a.store;
    const std::string first = decodeOnce(a).packPath;
    const auto packBytes = fs::file_size(first);
    fs::last_write_time(first, fs::last_write_time(first) - std::chrono::hours(1));
    store.setLimitBytes(packBytes + packBytes / 2);  // room for one pack, not two
    EXPECT_EQ(store.limitBytes(), packBytes + packBytes / 2);

    const StoreUse use = decodeOnce(b);
    ASSERT_TRUE(use.written);
    ASSERT_EQ(use.evicted, std::vector<std::string>{first});
    EXPECT_FALSE(fs::exists(first));
    EXPECT_TRUE(fs::exists(use.packPath));
    EXPECT_NE(storeUseText(use).find("least recently used"), std::string::npos);

    store.setLimitBytes(100);  // smaller than any pack: nothing is kept
    EXPECT_EQ(store.enforceLimit().size(), 1u);
    const StoreUse refused = decodeOnce(a);
    EXPECT_FALSE(refused.written);
    EXPECT_NE(refused.writeProblem.find("larger than the cache's limit"), std::string::npos);
    EXPECT_TRUE(store.packs().empty());
}

TEST(DecodedStore, clearRemovesEveryPackAndLeftOverTemporaryFiles) {
    Dataset d;
    decodeOnce(d);
    decodeOnce(d, 20);
    writeBytes(d.dir.file("store/.x.pack.tmp-999999"), {1, 2});
    writeBytes(d.dir.file("store/limit"), {'5', 'G', '\n'});
    const DecodedStore store(d.store);
    EXPECT_EQ(store.packs().size(), 2u);
    const std::uint64_t before = store.bytesUsed();
    EXPECT_GT(before, 0u);
    const DecodedStore::Usage removed = store.clear();
    EXPECT_EQ(removed.packs, 2u);
    EXPECT_EQ(removed.bytes, before);
    EXPECT_TRUE(store.packs().empty());
    EXPECT_EQ(store.bytesUsed(), 0u);
    EXPECT_FALSE(fs::exists(d.dir.file("store/.x.pack.tmp-999999")));
    EXPECT_EQ(store.limitBytes(), 5ull << 30);  // the setting stays
}

TEST(DecodedStore, anUnwritableStoreCostsTimeOnly) {
    Dataset d;
    writeBytes(d.store, {'x'});  // a file where the folder should be
    DatasetIndex index = d.scan();
    ImageCache cache(index, withStore(d.store));
    ASSERT_TRUE(cache.decodeAll());
    EXPECT_EQ(cache.cachedCount(), 8u);
    EXPECT_FALSE(cache.storeUse().written);
    EXPECT_FALSE(cache.storeUse().writeProblem.empty());
}

TEST(DecodedStore, sizesReadAndWrittenForPeople) {
    EXPECT_EQ(parseByteSize("2G"), 2ull << 30);
    EXPECT_EQ(parseByteSize("500M"), 500ull << 20);
    EXPECT_EQ(parseByteSize("1.5 GiB"), 3ull << 29);
    EXPECT_EQ(parseByteSize("64k"), 64ull << 10);
    EXPECT_EQ(parseByteSize("1048576"), 1048576u);
    EXPECT_EQ(parseByteSize("10MB"), 10ull << 20);
    EXPECT_THROW(parseByteSize("lots"), Error);
    EXPECT_THROW(parseByteSize("-1G"), Error);
    EXPECT_THROW(parseByteSize("3Q"), Error);
    EXPECT_EQ(readableBytes(512), "512 B");
    EXPECT_EQ(readableBytes(190ull << 20), "190 MiB");
    EXPECT_EQ(readableBytes(2ull << 30), "2.0 GiB");
}

TEST(DecodedStore, theDefaultFolderFollowsTheEnvironment) {
    ::setenv("CONVSCOPE_CACHE_DIR", "/somewhere/else", 1);
    EXPECT_EQ(DecodedStore::defaultDirectory(), "/somewhere/else");
    ::unsetenv("CONVSCOPE_CACHE_DIR");
    ::setenv("XDG_CACHE_HOME", "/xdg", 1);
    EXPECT_EQ(DecodedStore::defaultDirectory(), "/xdg/convscope/decoded");
    ::unsetenv("XDG_CACHE_HOME");
    const char* home = std::getenv("HOME");
    const std::string saved = home ? home : "";
    ::setenv("HOME", "/home/someone", 1);
    EXPECT_EQ(DecodedStore::defaultDirectory(), "/home/someone/.cache/convscope/decoded");
    ::setenv("HOME", saved.c_str(), 1);
}
