#pragma once

#include "data/datasetindex.h"
#include "data/decodedstore.h"
#include "util/parallel.h"

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
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
    /// The folder of the persistent DecodedStore, read before decoding and written after;
    /// empty: none (every image is decoded).
    std::string storeDirectory;
};

/// What decodeAll() did with the persistent store.
struct StoreUse {
    std::string packPath;
    std::size_t fromStore = 0;  ///< images read from the pack
    std::size_t decoded = 0;    ///< decoded afresh: new or changed files, or damaged in the pack
    std::size_t damaged = 0;    ///< images of the pack that failed their checksum
    std::string problem;        ///< why the pack could not be used at all, else empty
    bool written = false;       ///< the pack was (re)written with this run's images
    std::string writeProblem;   ///< why it could not be, else empty
    std::vector<std::string> evicted;  ///< older packs removed to keep within the size limit
};

/// One line for people about a StoreUse ("Decoded-image cache: 2800 images read from ...").
std::string storeUseText(const StoreUse& use);

/// Every usable sample of a DatasetIndex decoded once to RGB uint8 at the training size.
/// The index must outlive the cache. decodeAll() writes; after it returns, image() may be
/// called from any number of threads.
class ImageCache {
public:
    ImageCache(DatasetIndex& index, const CacheOptions& options);

    /// Decodes the usable samples on all cores (the first ones up to the memory budget are
    /// kept). Samples that fail to decode are marked unusable in the index, with the reason.
    /// With a store, images whose file is unchanged are read from it instead, and the store
    /// is rewritten when anything was decoded. Returns false if cancelled (the cache is then
    /// partly filled and still usable).
    bool decodeAll(const std::atomic<bool>* cancel = nullptr, const ProgressFn& progress = {});

    /// The sample's pixels (CV_8UC3, RGB, width x height). Cached images are returned
    /// without a copy and must not be written to. Throws convscope::Error if a sample past
    /// the budget fails to decode now.
    cv::Mat image(std::size_t sampleIndex) const;

    const DatasetIndex& index() const { return *m_index; }
    int width() const { return m_options.width; }
    int height() const { return m_options.height; }
    std::size_t cachedCount() const { return m_cached; }
    std::uint64_t bytesUsed() const { return m_storageBytes; }
    /// What the last decodeAll() did with the persistent store (nothing without one).
    const StoreUse& storeUse() const { return m_storeUse; }

private:
    std::size_t imageBytes() const {
        return std::size_t(m_options.width) * std::size_t(m_options.height) * 3;
    }
    DecodeSettings decodeSettings() const {
        return {m_options.width, m_options.height, m_options.maxPixels};
    }
    void updateStore(const DecodedStore& store, const DecodedPack* pack,
                     const std::vector<FileStamp>& stamps,
                     const std::vector<std::string>& warnings);

    DatasetIndex* m_index;
    CacheOptions m_options;
    struct FreeStorage {
        void operator()(std::uint8_t* p) const { std::free(p); }
    };
    // Left uninitialised: only decoded slots are read, and the decoding threads then touch
    // the fresh pages first, in parallel (zeroing 189 MB on one thread took 70 ms). Backed by
    // huge pages where the kernel allows: 95 page faults for those 189 MB instead of 46,000.
    std::unique_ptr<std::uint8_t, FreeStorage> m_storage;
    std::uint64_t m_storageBytes = 0;
    std::vector<std::int64_t> m_slot;   // per sample: slot in m_storage, or -1
    std::vector<std::uint8_t> m_ready;  // per slot: decoded
    std::size_t m_cached = 0;
    StoreUse m_storeUse;
};

}  // namespace convscope
