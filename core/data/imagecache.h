#pragma once

#include "data/datasetindex.h"
#include "util/parallel.h"

#include <atomic>
#include <cstdint>
#include <vector>

namespace cv {
class Mat;
}

namespace convscope {

struct CacheOptions {
    int width = 150;
    int height = 150;
    /// Images past this many bytes are not kept; they are decoded again on each use.
    std::uint64_t memoryBudgetBytes = 4ull << 30;
    int threads = 0;  ///< 0 = all cores
    std::uint64_t maxPixels = kDefaultMaxPixels;
};

/// Every usable sample of a DatasetIndex decoded once to RGB uint8 at the training size.
/// The index must outlive the cache. decodeAll() writes; after it returns, image() may be
/// called from any number of threads.
class ImageCache {
public:
    ImageCache(DatasetIndex& index, const CacheOptions& options);

    /// Decodes the usable samples on all cores (the first ones up to the memory budget are
    /// kept). Samples that fail to decode are marked unusable in the index, with the reason.
    /// Returns false if cancelled (the cache is then partly filled and still usable).
    bool decodeAll(const std::atomic<bool>* cancel = nullptr, const ProgressFn& progress = {});

    /// The sample's pixels (CV_8UC3, RGB, width x height). Cached images are returned
    /// without a copy and must not be written to. Throws convscope::Error if a sample past
    /// the budget fails to decode now.
    cv::Mat image(std::size_t sampleIndex) const;

    const DatasetIndex& index() const { return *m_index; }
    int width() const { return m_options.width; }
    int height() const { return m_options.height; }
    std::size_t cachedCount() const { return m_cached; }
    std::uint64_t bytesUsed() const { return m_storage.size(); }

private:
    DatasetIndex* m_index;
    CacheOptions m_options;
    std::vector<std::uint8_t> m_storage;
    std::vector<std::int64_t> m_slot;   // per sample: slot in m_storage, or -1
    std::vector<std::uint8_t> m_ready;  // per slot: decoded
    std::size_t m_cached = 0;
};

}  // namespace convscope
