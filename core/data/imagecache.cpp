#include "data/imagecache.h"

#include "data/imagedecoder.h"
#include "error.h"

#include <opencv2/core.hpp>

#include <mutex>

namespace convscope {

namespace {

DecodeOptions decodeOptionsFor(const CacheOptions& o) {
    DecodeOptions decode;
    decode.width = o.width;
    decode.height = o.height;
    decode.maxPixels = o.maxPixels;
    return decode;
}

}  // namespace

ImageCache::ImageCache(DatasetIndex& index, const CacheOptions& options)
    : m_index(&index), m_options(options) {
    if (options.width <= 0 || options.height <= 0)
        throw Error("image cache", "image size must be positive");
    const std::uint64_t bytesPerImage = std::uint64_t(options.width) * options.height * 3;
    const std::uint64_t capacity = options.memoryBudgetBytes / bytesPerImage;
    const auto& samples = index.samples();
    m_slot.assign(samples.size(), -1);
    std::size_t slots = 0;
    for (std::size_t i = 0; i < samples.size() && slots < capacity; ++i) {
        if (samples[i].usable)
            m_slot[i] = std::int64_t(slots++);
    }
    m_storage.resize(slots * bytesPerImage);
    m_ready.assign(slots, 0);
}

bool ImageCache::decodeAll(const std::atomic<bool>* cancel, const ProgressFn& progress) {
    std::vector<std::size_t> todo;
    for (std::size_t i = 0; i < m_slot.size(); ++i)
        if (m_slot[i] >= 0 && !m_ready[std::size_t(m_slot[i])])
            todo.push_back(i);

    const DecodeOptions decode = decodeOptionsFor(m_options);
    const std::size_t bytesPerImage = std::size_t(m_options.width) * m_options.height * 3;

    std::mutex failuresMutex;
    std::vector<std::pair<std::size_t, std::string>> failures;
    std::vector<std::pair<std::size_t, std::string>> warnings;
    const bool complete = parallelFor(
        todo.size(), m_options.threads,
        [&](std::size_t k) {
            const std::size_t sample = todo[k];
            const std::size_t slot = std::size_t(m_slot[sample]);
            try {
                std::string warning;
                DecodeOptions withWarning = decode;
                withWarning.warning = &warning;
                const cv::Mat rgb = decodeImageFile(m_index->samples()[sample].path, withWarning);
                if (!warning.empty()) {
                    std::lock_guard lock(failuresMutex);
                    warnings.emplace_back(sample, warning);
                }
                cv::Mat dst(m_options.height, m_options.width, CV_8UC3,
                            m_storage.data() + slot * bytesPerImage);
                rgb.copyTo(dst);
                m_ready[slot] = 1;
            } catch (const Error& e) {
                std::lock_guard lock(failuresMutex);
                failures.emplace_back(sample, e.reason());
            } catch (const std::exception& e) {
                std::lock_guard lock(failuresMutex);
                failures.emplace_back(sample, std::string("cannot decode (") + e.what() + ")");
            }
        },
        cancel, progress);

    for (const auto& [sample, text] : warnings)
        m_index->addWarning(m_index->relativePath(m_index->samples()[sample].path) +
                            ": decoded, but the decoder warned: " + text);
    for (const auto& [sample, reason] : failures) {
        m_index->markUnusable(sample, reason);
        m_slot[sample] = -1;
    }
    m_cached = 0;
    for (std::uint8_t r : m_ready)
        m_cached += r;
    return complete;
}

cv::Mat ImageCache::image(std::size_t sampleIndex) const {
    const std::int64_t slot = m_slot.at(sampleIndex);
    if (slot >= 0 && m_ready[std::size_t(slot)]) {
        const std::size_t bytesPerImage = std::size_t(m_options.width) * m_options.height * 3;
        return cv::Mat(
            m_options.height, m_options.width, CV_8UC3,
            const_cast<std::uint8_t*>(m_storage.data()) + std::size_t(slot) * bytesPerImage);
    }
    return decodeImageFile(m_index->samples().at(sampleIndex).path, decodeOptionsFor(m_options));
}

}  // namespace convscope
