#pragma once

#include "augment/augmenter.h"
#include "data/imagecache.h"
#include "models/preprocessing.h"
#include "train/shard.h"

#include <torch/types.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace convscope {

struct Batch {
    torch::Tensor images;  ///< float [N, 3, H, W]; channels_last memory when asked
    torch::Tensor labels;  ///< int64 [N]
    std::vector<std::size_t> samples;
    std::int64_t index = 0;  ///< batch number within the epoch
};

struct LoaderOptions {
    int batchSize = 32;
    bool shuffle = true;
    bool dropLast = false;
    bool augment = true;
    bool channelsLast = false;
    std::uint64_t seed = 1337;
    int workers = 0;          ///< 0 = all cores
    int prefetchBatches = 4;  ///< batches made ahead of the consumer, at most
    /// How pixels become inputs: the model's, applied after augmentation.
    Preprocessing preprocessing;
    /// Batches in page-locked memory, for asynchronous copies to a GPU (needs CUDA).
    bool pinMemory = false;
    /// Data-parallel shards: this loader hands out every shardCount-th sample of each epoch's
    /// order (the same on every rank), starting at shardIndex. With padShards every shard is
    /// as long as the longest, the order padded by repeating its start as PyTorch's
    /// DistributedSampler does, so that every rank runs as many training steps.
    int shardCount = 1;
    int shardIndex = 0;
    bool padShards = false;
};

/// Turns cached images into shuffled, augmented float batches on worker threads, with a
/// bounded prefetch queue. Each sample's augmentation is seeded by (seed, epoch, sample),
/// so the batches are the same whatever the number of workers. One consumer thread calls
/// startEpoch() and next(); stop() may be called from any thread and makes next() return
/// nothing at once. The cache must outlive the loader.
class BatchLoader {
public:
    BatchLoader(const ImageCache& cache, std::vector<std::size_t> samples,
                const AugmentParams& augment, const LoaderOptions& options);
    ~BatchLoader();
    BatchLoader(const BatchLoader&) = delete;
    BatchLoader& operator=(const BatchLoader&) = delete;

    std::int64_t batchesPerEpoch() const;
    /// The samples this loader hands out per epoch: all, or its shard's.
    std::size_t shardLength() const;
    Shard shard() const {
        return {m_options.shardCount, m_options.shardIndex, m_options.padShards};
    }
    std::size_t sampleCount() const { return m_samples.size(); }

    /// Starts producing the batches of `epoch` (stopping any epoch still running).
    void startEpoch(int epoch);
    /// The next batch in order, or nothing at the end of the epoch or after stop().
    /// Rethrows (as convscope::Error) a failure that happened on a worker.
    std::optional<Batch> next();
    /// Ends the current epoch early; safe from any thread, never blocks on workers.
    void stop();
    /// Images that could not be decoded when a batch needed them (not cached, and damaged
    /// or removed since the scan): (sample, reason), each once, since the last call. They
    /// are left out of their batch (which may then be smaller, or empty) and of every later
    /// one. Any thread.
    std::vector<std::pair<std::size_t, std::string>> takeSkipped();
    /// Seconds the workers spent making batches (reading, augmenting, converting), summed
    /// over workers, since the loader was made. Any thread.
    double assemblySeconds() const { return double(m_assemblyNs.load()) * 1e-9; }

private:
    void work(int epoch, const std::vector<std::size_t>& order);
    Batch makeBatch(std::int64_t b, int epoch, const std::vector<std::size_t>& order) const;
    void joinWorkers();

    const ImageCache& m_cache;
    std::vector<std::size_t> m_samples;
    Augmenter m_augmenter;
    LoaderOptions m_options;

    mutable std::mutex m_skipMutex;
    mutable std::set<std::size_t> m_broken;
    mutable std::vector<std::pair<std::size_t, std::string>> m_skipped;

    std::vector<std::thread> m_workers;
    std::vector<std::size_t> m_order;
    std::mutex m_mutex;
    std::condition_variable m_changed;
    std::map<std::int64_t, Batch> m_ready;
    std::int64_t m_nextToHand = 0;  // guarded by m_mutex
    std::int64_t m_nextToMake = 0;  // guarded by m_mutex
    std::atomic<bool> m_stop{false};
    std::atomic<std::int64_t> m_assemblyNs{0};
    std::string m_failure;  // guarded by m_mutex
};

}  // namespace convscope
