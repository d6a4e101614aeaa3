#include "train/batchloader.h"

#include "error.h"
#include "train/pixelrows.h"
#include "util/random.h"

#include <opencv2/core.hpp>

#include <torch/torch.h>

#include <utility>

namespace convscope {

BatchLoader::BatchLoader(const ImageCache& cache, std::vector<std::size_t> samples,
                         const AugmentParams& augment, const LoaderOptions& options)
    : m_cache(cache), m_samples(std::move(samples)), m_augmenter(augment), m_options(options) {
    if (m_options.batchSize <= 0)
        throw Error("batch loader", "batch size must be positive");
    if (m_options.prefetchBatches <= 0)
        m_options.prefetchBatches = 1;
}

BatchLoader::~BatchLoader() {
    joinWorkers();
}

std::int64_t BatchLoader::batchesPerEpoch() const {
    const auto n = std::int64_t(shardLength());
    const auto b = std::int64_t(m_options.batchSize);
    return m_options.dropLast ? n / b : (n + b - 1) / b;
}

std::size_t BatchLoader::shardLength() const {
    return shard().length(m_samples.size());
}

void BatchLoader::joinWorkers() {
    m_stop = true;
    {
        std::lock_guard lock(m_mutex);
        m_changed.notify_all();
    }
    for (auto& t : m_workers)
        t.join();
    m_workers.clear();
}

void BatchLoader::startEpoch(int epoch) {
    joinWorkers();
    m_order = m_samples;
    if (m_options.shuffle) {
        Rng rng(mixSeed(m_options.seed, std::uint64_t(epoch), 0x5eed));
        rng.shuffle(m_order);
    }
    m_order = shard().of(m_order);
    {
        std::lock_guard lock(m_mutex);
        m_ready.clear();
        m_nextToHand = 0;
        m_nextToMake = 0;
        m_failure.clear();
    }
    m_stop = false;
    const int workers = m_options.workers > 0 ? m_options.workers : defaultThreadCount();
    for (int w = 0; w < workers; ++w)
        m_workers.emplace_back([this, epoch] { work(epoch, m_order); });
}

void BatchLoader::stop() {
    m_stop = true;
    std::lock_guard lock(m_mutex);
    m_changed.notify_all();
}

void BatchLoader::work(int epoch, const std::vector<std::size_t>& order) {
    const std::int64_t total = batchesPerEpoch();
    for (;;) {
        std::int64_t b = 0;
        {
            std::unique_lock lock(m_mutex);
            m_changed.wait(lock, [&] {
                return m_stop || m_nextToMake >= total ||
                       m_nextToMake < m_nextToHand + m_options.prefetchBatches;
            });
            if (m_stop || m_nextToMake >= total)
                return;
            b = m_nextToMake++;
        }
        try {
            const auto started = std::chrono::steady_clock::now();
            Batch batch = makeBatch(b, epoch, order);
            m_assemblyNs += std::chrono::duration_cast<std::chrono::nanoseconds>(
                                std::chrono::steady_clock::now() - started)
                                .count();
            std::lock_guard lock(m_mutex);
            m_ready.emplace(b, std::move(batch));
            m_changed.notify_all();
        } catch (const std::exception& e) {
            std::lock_guard lock(m_mutex);
            if (m_failure.empty())
                m_failure = e.what();
            m_stop = true;
            m_changed.notify_all();
            return;
        }
    }
}

std::optional<Batch> BatchLoader::next() {
    std::unique_lock lock(m_mutex);
    if (m_workers.empty() || m_nextToHand >= batchesPerEpoch())
        return std::nullopt;
    m_changed.wait(lock, [&] { return m_stop || m_ready.count(m_nextToHand) > 0; });
    if (!m_failure.empty())
        throw Error("batch loader", m_failure);
    if (m_stop)
        return std::nullopt;
    auto node = m_ready.extract(m_nextToHand);
    ++m_nextToHand;
    m_changed.notify_all();
    return std::move(node.mapped());
}

std::vector<std::pair<std::size_t, std::string>> BatchLoader::takeSkipped() {
    std::lock_guard lock(m_skipMutex);
    return std::exchange(m_skipped, {});
}

Batch BatchLoader::makeBatch(std::int64_t b, int epoch,
                             const std::vector<std::size_t>& order) const {
    const std::size_t begin = std::size_t(b) * std::size_t(m_options.batchSize);
    const std::size_t end = std::min(order.size(), begin + std::size_t(m_options.batchSize));
    const int h = m_cache.height();
    const int w = m_cache.width();

    Batch batch;
    batch.index = b;
    // An image that is not cached is decoded here; one damaged or removed since the scan is
    // left out and reported, not the end of the run.
    std::vector<cv::Mat> sources;
    for (std::size_t k = begin; k < end; ++k) {
        const std::size_t sample = order[k];
        {
            std::lock_guard lock(m_skipMutex);
            if (m_broken.count(sample))
                continue;
        }
        try {
            sources.push_back(m_cache.image(sample));
            batch.samples.push_back(sample);
        } catch (const Error& e) {
            std::lock_guard lock(m_skipMutex);
            if (m_broken.insert(sample).second)
                m_skipped.emplace_back(sample, e.what());
        }
    }
    const int n = int(batch.samples.size());
    const auto pinned = torch::TensorOptions().pinned_memory(m_options.pinMemory);
    batch.labels = torch::empty({n}, pinned.dtype(torch::kInt64));
    // Written straight in the layout asked for (NHWC storage viewed as NCHW is exactly the
    // channels_last layout). No tensor op runs here: on a worker thread each one starts its
    // own OpenMP team, which fights the other workers for the cores.
    const bool planar = !m_options.channelsLast;
    torch::Tensor storage = planar ? torch::empty({n, 3, h, w}, pinned.dtype(torch::kFloat32))
                                   : torch::empty({n, h, w, 3}, pinned.dtype(torch::kFloat32));
    float* out = storage.data_ptr<float>();
    const std::size_t plane = std::size_t(h) * std::size_t(w);
    auto* labels = batch.labels.data_ptr<std::int64_t>();

    PixelTransform transform;
    for (int c = 0; c < 3; ++c) {
        const Preprocessing& p = m_options.preprocessing;
        transform.scale[c] = p.rescale / p.stddev[std::size_t(c)];
        transform.shift[c] = -p.mean[std::size_t(c)] / p.stddev[std::size_t(c)];
    }
    transform.swapRedBlue = m_options.preprocessing.bgr;  // the cache holds RGB
    const bool augment = m_options.augment && !m_augmenter.params().isIdentity();
    cv::Mat augmented;
    for (int i = 0; i < n; ++i) {
        const std::size_t sample = batch.samples[std::size_t(i)];
        labels[i] = m_cache.index().samples()[sample].label;
        const cv::Mat& src = sources[std::size_t(i)];
        const cv::Mat* img = &src;
        if (augment) {
            m_augmenter.apply(src, augmented,
                              mixSeed(m_options.seed, std::uint64_t(epoch), sample + 1));
            img = &augmented;
        }
        float* dst = out + std::size_t(i) * plane * 3;
        for (int y = 0; y < h; ++y) {
            const std::uint8_t* row = img->ptr<std::uint8_t>(y);
            if (planar) {
                float* r = dst + std::size_t(y) * w;
                rowToPlanes(row, w, transform, r, r + plane, r + 2 * plane);
            } else {
                rowToInterleaved(row, w, transform, dst + std::size_t(y) * w * 3);
            }
        }
    }
    batch.images = planar ? storage : storage.permute({0, 3, 1, 2});
    return batch;
}

}  // namespace convscope
