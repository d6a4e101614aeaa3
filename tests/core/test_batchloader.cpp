#include "train/batchloader.h"
#include "train/bottleneck.h"

#include "testimages.h"
#include "train/evaluator.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <set>
#include <thread>

using namespace convscope;
using namespace convscope::test;

namespace {

struct Fixture {
    TempDir dir;
    DatasetIndex index;
    std::unique_ptr<ImageCache> cache;

    explicit Fixture(int perClass) : index(make(dir, perClass)) {
        CacheOptions o;
        o.width = 12;
        o.height = 10;
        cache = std::make_unique<ImageCache>(index, o);
        cache->decodeAll();
    }
    static DatasetIndex make(const TempDir& dir, int perClass) {
        for (int c = 0; c < 3; ++c)
            for (int i = 0; i < perClass; ++i) {
                // Built with append: GCC 12 at -O3 warns falsely on "c" + std::to_string(c).
                std::string name = "c";
                name.append(std::to_string(c)).append("/").append(std::to_string(i)).append(".png");
                writeImage(dir.file(name), solidBgr(12, 10, {c * 100.0, double(i), 255}));
            }
        ScanOptions o;
        o.validationFraction = 0;
        return DatasetIndex::scan(dir.path(), o);
    }
    std::vector<std::size_t> train() const { return index.indices(Split::Train); }
};

AugmentParams someAugmentation() {
    AugmentParams p;
    p.rotationRange = 30;
    p.horizontalFlip = true;
    p.setZoomRange(0.2);
    return p;
}

std::vector<Batch> wholeEpoch(BatchLoader& loader, int epoch) {
    loader.startEpoch(epoch);
    std::vector<Batch> out;
    while (auto b = loader.next())
        out.push_back(std::move(*b));
    return out;
}

}  // namespace

TEST(BatchLoader, batchesHaveTheRightShapesTypesAndValues) {
    Fixture f(7);  // 21 samples
    LoaderOptions o;
    o.batchSize = 8;
    o.augment = false;
    BatchLoader loader(*f.cache, f.train(), AugmentParams{}, o);
    EXPECT_EQ(loader.batchesPerEpoch(), 3);
    const auto batches = wholeEpoch(loader, 0);
    ASSERT_EQ(batches.size(), 3u);
    EXPECT_EQ(batches[0].images.sizes(), (std::vector<std::int64_t>{8, 3, 10, 12}));
    EXPECT_EQ(batches[2].images.size(0), 5);
    EXPECT_EQ(batches[0].images.dtype(), torch::kFloat32);
    EXPECT_EQ(batches[0].labels.dtype(), torch::kInt64);
    EXPECT_TRUE(batches[0].images.is_contiguous());
    for (const auto& b : batches) {
        for (std::int64_t i = 0; i < b.images.size(0); ++i) {
            const auto& sample = f.index.samples()[b.samples[std::size_t(i)]];
            EXPECT_EQ(b.labels[i].item<std::int64_t>(), sample.label);
            EXPECT_NEAR(b.images[i][0][3][3].item<float>(), sample.label * 100 / 255.0, 1e-6);
            EXPECT_NEAR(b.images[i][2][3][3].item<float>(), 1.0, 1e-6);
        }
    }
}

TEST(BatchLoader, channelsLastBatchesHaveChannelsLastStrides) {
    Fixture f(2);
    LoaderOptions o;
    o.batchSize = 4;
    o.channelsLast = true;
    BatchLoader loader(*f.cache, f.train(), AugmentParams{}, o);
    const auto batches = wholeEpoch(loader, 0);
    ASSERT_FALSE(batches.empty());
    EXPECT_TRUE(batches[0].images.is_contiguous(at::MemoryFormat::ChannelsLast));
    EXPECT_EQ(batches[0].images.sizes(), (std::vector<std::int64_t>{4, 3, 10, 12}));
}

TEST(BatchLoader, everySampleComesOnceAndTheOrderChangesPerEpoch) {
    Fixture f(10);
    LoaderOptions o;
    o.batchSize = 4;
    BatchLoader loader(*f.cache, f.train(), AugmentParams{}, o);
    auto order = [&](int epoch) {
        std::vector<std::size_t> seen;
        for (const auto& b : wholeEpoch(loader, epoch))
            seen.insert(seen.end(), b.samples.begin(), b.samples.end());
        return seen;
    };
    const auto first = order(0);
    const auto second = order(1);
    EXPECT_EQ(std::set<std::size_t>(first.begin(), first.end()).size(), 30u);
    EXPECT_EQ(first.size(), 30u);
    EXPECT_NE(first, second);
    EXPECT_EQ(first, order(0));
}

TEST(BatchLoader, theSameSeedGivesTheSameBatchesWhateverTheWorkerCount) {
    Fixture f(6);
    auto run = [&](int workers) {
        LoaderOptions o;
        o.batchSize = 5;
        o.workers = workers;
        o.seed = 99;
        BatchLoader loader(*f.cache, f.train(), someAugmentation(), o);
        return wholeEpoch(loader, 3);
    };
    const auto one = run(1);
    const auto four = run(4);
    ASSERT_EQ(one.size(), four.size());
    for (std::size_t i = 0; i < one.size(); ++i) {
        EXPECT_EQ(one[i].samples, four[i].samples);
        EXPECT_TRUE(torch::equal(one[i].images, four[i].images));
    }
}

TEST(BatchLoader, stoppingEarlyNeverDeadlocks) {
    Fixture f(20);
    LoaderOptions o;
    o.batchSize = 2;
    o.prefetchBatches = 2;
    {
        BatchLoader loader(*f.cache, f.train(), someAugmentation(), o);
        loader.startEpoch(0);
        ASSERT_TRUE(loader.next().has_value());
        // The consumer walks away with workers blocked on a full queue: destruction must return.
    }
    BatchLoader loader(*f.cache, f.train(), someAugmentation(), o);
    loader.startEpoch(0);
    ASSERT_TRUE(loader.next().has_value());
    std::thread stopper([&] { loader.stop(); });
    stopper.join();
    EXPECT_FALSE(loader.next().has_value());
    // A stopped loader starts the next epoch normally.
    EXPECT_EQ(wholeEpoch(loader, 1).size(), 30u);
}

TEST(BatchLoader, augmentationChangesPixelsButNotLabels) {
    Fixture f(4);
    LoaderOptions o;
    o.batchSize = 12;
    o.shuffle = false;
    BatchLoader plain(*f.cache, f.train(), AugmentParams{}, o);
    AugmentParams p;
    p.horizontalFlip = true;
    p.rotationRange = 45;
    p.fillMode = FillMode::Constant;
    BatchLoader augmented(*f.cache, f.train(), p, o);
    const auto a = wholeEpoch(plain, 0);
    const auto b = wholeEpoch(augmented, 0);
    EXPECT_TRUE(torch::equal(a[0].labels, b[0].labels));
    EXPECT_FALSE(torch::equal(a[0].images, b[0].images));
}

TEST(BatchLoader, caffePreprocessingFeedsBlueFirstMinusTheBgrMean) {
    Fixture f(2);
    for (const bool channelsLast : {false, true}) {
        LoaderOptions o;
        o.batchSize = 6;
        o.augment = false;
        o.shuffle = false;
        o.channelsLast = channelsLast;
        o.preprocessing = caffePreprocessing();
        BatchLoader loader(*f.cache, f.train(), AugmentParams{}, o);
        for (const auto& b : wholeEpoch(loader, 0)) {
            for (std::int64_t i = 0; i < b.images.size(0); ++i) {
                // Images are RGB (class * 100, i, 255): blue, 255, must come first.
                const int label = f.index.samples()[b.samples[std::size_t(i)]].label;
                const torch::Tensor pixel = b.images[i].index({torch::indexing::Slice(), 3, 4});
                EXPECT_NEAR(pixel[0].item<float>(), 255.0f - 103.939f, 1e-3);
                EXPECT_NEAR(pixel[2].item<float>(), label * 100.0f - 123.68f, 1e-3);
            }
        }
    }
}

TEST(BatchLoader, anUncachedImageDamagedAfterTheScanIsLeftOutAndReported) {
    // With the data set larger than the decode cache, one file truncated during training
    // ended the run ("batch loader: ... truncated PNG").
    TempDir dir;
    DatasetIndex index = Fixture::make(dir, 4);
    CacheOptions o;
    o.width = 12;
    o.height = 10;
    o.memoryBudgetBytes = 0;  // nothing cached: every image is decoded when a batch needs it
    ImageCache cache(index, o);
    cache.decodeAll();
    const std::vector<std::size_t> samples = index.indices(Split::Train);
    const std::string damaged = index.samples()[samples[5]].path;
    auto bytes = readBytes(damaged);
    bytes.resize(bytes.size() / 2);
    writeBytes(damaged, bytes);

    LoaderOptions lo;
    lo.batchSize = 4;
    lo.workers = 2;
    BatchLoader loader(cache, samples, AugmentParams{}, lo);
    for (int epoch = 0; epoch < 2; ++epoch) {
        std::size_t seen = 0;
        for (const Batch& b : wholeEpoch(loader, epoch)) {
            EXPECT_EQ(b.images.size(0), std::int64_t(b.samples.size()));
            EXPECT_EQ(std::count(b.samples.begin(), b.samples.end(), samples[5]), 0);
            seen += b.samples.size();
        }
        EXPECT_EQ(seen, samples.size() - 1);
        const auto skipped = loader.takeSkipped();
        if (epoch == 0) {
            ASSERT_EQ(skipped.size(), 1u);
            EXPECT_EQ(skipped[0].first, samples[5]);
            EXPECT_NE(skipped[0].second.find(damaged), std::string::npos) << skipped[0].second;
        } else {
            EXPECT_TRUE(skipped.empty()) << "reported once, not every epoch";
        }
    }
}

TEST(BatchLoader, dataParallelShardsSplitEachBatchOfTheWholeOrder) {
    Fixture f(6);  // 18 samples
    LoaderOptions whole;
    whole.batchSize = 6;
    whole.augment = false;
    BatchLoader single(*f.cache, f.train(), {}, whole);
    const std::vector<Batch> reference = wholeEpoch(single, 2);
    std::vector<std::vector<Batch>> shards;
    for (int rank = 0; rank < 3; ++rank) {
        LoaderOptions o = whole;
        o.batchSize = 2;
        o.shardCount = 3;
        o.shardIndex = rank;
        o.padShards = true;
        BatchLoader loader(*f.cache, f.train(), {}, o);
        EXPECT_EQ(loader.shardLength(), 6u);
        shards.push_back(wholeEpoch(loader, 2));
    }
    // Batch k of the three ranks together is batch k of one process with three times the batch.
    ASSERT_EQ(reference.size(), 3u);
    for (std::size_t k = 0; k < reference.size(); ++k) {
        std::multiset<std::size_t> together;
        for (const auto& shard : shards)
            together.insert(shard[k].samples.begin(), shard[k].samples.end());
        EXPECT_EQ(together, std::multiset<std::size_t>(reference[k].samples.begin(),
                                                       reference[k].samples.end()));
    }
}

TEST(BatchLoader, paddedShardsAreEqualAndUnpaddedOnesCountEverySampleOnce) {
    Fixture f(3);  // 9 samples over 2 ranks
    std::multiset<std::size_t> seen;
    for (int rank = 0; rank < 2; ++rank) {
        LoaderOptions o;
        o.batchSize = 4;
        o.augment = false;
        o.shuffle = false;
        o.shardCount = 2;
        o.shardIndex = rank;
        BatchLoader unpadded(*f.cache, f.train(), {}, o);
        EXPECT_EQ(unpadded.shardLength(), rank == 0 ? 5u : 4u);
        for (const Batch& b : wholeEpoch(unpadded, 0))
            seen.insert(b.samples.begin(), b.samples.end());
        o.padShards = true;
        BatchLoader padded(*f.cache, f.train(), {}, o);
        EXPECT_EQ(padded.shardLength(), 5u);
        EXPECT_EQ(padded.batchesPerEpoch(), 2);
    }
    const std::vector<std::size_t> all = f.train();
    EXPECT_EQ(seen, std::multiset<std::size_t>(all.begin(), all.end()));
}

TEST(FeatureBatches, dataParallelShardsSplitEachBatchOfTheWholeOrder) {
    // 10 feature rows, row i holding the value i, over 3 ranks: padded to 12.
    FeatureSet set{torch::arange(10, torch::kFloat32).unsqueeze(1),
                   torch::arange(10, torch::kLong)};
    FeatureBatches whole(set, 6, 7);
    whole.startEpoch(1);
    std::vector<std::vector<std::int64_t>> reference;
    while (auto b = whole.next())
        reference.emplace_back(b->samples.begin(), b->samples.end());
    std::vector<std::vector<std::vector<std::int64_t>>> ranks;
    for (int rank = 0; rank < 3; ++rank) {
        FeatureBatches mine(set, 2, 7, Shard{3, rank, true});
        EXPECT_EQ(mine.batchesPerEpoch(), 2);
        mine.startEpoch(1);
        auto& batches = ranks.emplace_back();
        while (auto b = mine.next()) {
            EXPECT_TRUE(torch::equal(b->images.squeeze(1).to(torch::kLong), b->labels));
            batches.emplace_back(b->samples.begin(), b->samples.end());
        }
    }
    // Step k of the ranks together holds batch k of one process with three times the batch;
    // the last step repeats the order's first two rows, as DistributedSampler pads.
    ASSERT_EQ(reference.size(), 2u);
    for (std::size_t k = 0; k < 2; ++k) {
        std::multiset<std::int64_t> together;
        for (const auto& batches : ranks)
            together.insert(batches[k].begin(), batches[k].end());
        std::multiset<std::int64_t> expected(reference[k].begin(), reference[k].end());
        if (k == 1) {
            expected.insert(reference[0][0]);
            expected.insert(reference[0][1]);
        }
        EXPECT_EQ(together, expected) << "step " << k;
    }
    // Validation rows: each taken once over the ranks, in order.
    std::vector<float> seen;
    for (int rank = 0; rank < 3; ++rank) {
        const FeatureSet part = rowsOf(set, Shard{3, rank, true});
        for (std::int64_t i = 0; i < part.features.size(0); ++i)
            seen.push_back(part.features[i][0].item<float>());
    }
    std::sort(seen.begin(), seen.end());
    ASSERT_EQ(seen.size(), 10u);
    for (std::size_t i = 0; i < seen.size(); ++i)
        EXPECT_EQ(seen[i], float(i));
}
