#include "data/imagecache.h"

#include "data/decodedstore.h"
#include "util/text.h"
#include "data/imagedecoder.h"
#include "error.h"
#include "util/atomicfile.h"
#include "util/hugepages.h"

#include <opencv2/core.hpp>

#include <filesystem>
#include <mutex>
#include <optional>

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
    const std::uint64_t capacity = options.memoryBudgetBytes / imageBytes();
    const auto& samples = index.samples();
    m_slot.assign(samples.size(), -1);
    std::size_t slots = 0;
    for (std::size_t i = 0; i < samples.size() && slots < capacity; ++i) {
        if (samples[i].usable)
            m_slot[i] = std::int64_t(slots++);
    }
    m_storageBytes = slots * imageBytes();
    m_storage.reset(static_cast<std::uint8_t*>(allocateHugePageAligned(m_storageBytes)));
    m_ready.assign(slots, 0);
}

bool ImageCache::decodeAll(const std::atomic<bool>* cancel, const ProgressFn& progress) {
    std::vector<std::size_t> todo;
    for (std::size_t i = 0; i < m_slot.size(); ++i)
        if (m_slot[i] >= 0 && !m_ready[std::size_t(m_slot[i])])
            todo.push_back(i);

    const DecodeOptions decode = decodeOptionsFor(m_options);
    const DecodeSettings settings = decodeSettings();
    const auto& samples = m_index->samples();

    m_storeUse = {};
    std::optional<DecodedStore> store;
    std::unique_ptr<DecodedPack> pack;
    if (!m_options.storeDirectory.empty()) {
        store.emplace(m_options.storeDirectory);
        m_storeUse.packPath = store->packPath(m_index->root(), settings);
        pack = DecodedPack::open(m_storeUse.packPath, settings, &m_storeUse.problem);
    }
    // Per sample: its file's stamp (taken before it is read) and the decoder's warning.
    std::vector<FileStamp> stamps(store ? samples.size() : 0);
    std::vector<std::string> sampleWarnings(samples.size());
    std::atomic<std::size_t> fromStore{0}, damaged{0};

    std::mutex failuresMutex;
    std::vector<std::pair<std::size_t, std::string>> failures;
    const bool complete = parallelFor(
        todo.size(), m_options.threads,
        [&](std::size_t k) {
            const std::size_t sample = todo[k];
            const std::size_t slot = std::size_t(m_slot[sample]);
            std::uint8_t* pixels = m_storage.get() + slot * imageBytes();
            if (store) {
                stamps[sample] = fileStamp(samples[sample].path);
                if (const PackEntry* e =
                        pack ? pack->find(samples[sample].path, stamps[sample]) : nullptr) {
                    if (pack->read(*e, pixels)) {
                        sampleWarnings[sample] = e->warning;
                        m_ready[slot] = 1;
                        ++fromStore;
                        return;
                    }
                    ++damaged;  // decoded afresh below, and the pack rewritten
                }
            }
            try {
                DecodeOptions intoSlot = decode;
                intoSlot.warning = &sampleWarnings[sample];
                intoSlot.into = pixels;
                decodeImageFile(samples[sample].path, intoSlot);
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

    for (std::size_t sample : todo)
        if (!sampleWarnings[sample].empty())
            m_index->addWarning(m_index->relativePath(samples[sample].path) +
                                ": decoded, but the decoder warned: " + sampleWarnings[sample]);
    for (const auto& [sample, reason] : failures) {
        m_index->markUnusable(sample, reason);
        m_slot[sample] = -1;
    }
    m_cached = 0;
    for (std::uint8_t r : m_ready)
        m_cached += r;
    m_storeUse.fromStore = fromStore;
    m_storeUse.damaged = damaged;
    m_storeUse.decoded = todo.size() - fromStore - failures.size();
    if (store && complete)
        updateStore(*store, pack.get(), stamps, sampleWarnings);
    return complete;
}

void ImageCache::updateStore(const DecodedStore& store, const DecodedPack* pack,
                             const std::vector<FileStamp>& stamps,
                             const std::vector<std::string>& warnings) {
    const bool same = pack && m_storeUse.decoded == 0 && m_storeUse.damaged == 0 &&
                      pack->imageCount() == m_storeUse.fromStore;
    if (same) {
        store.touch(m_storeUse.packPath);
        return;
    }
    const std::uint64_t bytes = std::uint64_t(m_cached) * imageBytes();
    const std::uint64_t limit = store.limitBytes();
    if (bytes > limit) {
        m_storeUse.writeProblem = "the decoded images (" + readableBytes(bytes) +
                                  ") are larger than the cache's limit (" + readableBytes(limit) +
                                  ")";
        return;
    }
    std::vector<DecodedPack::Image> images;
    images.reserve(m_cached);
    const auto& samples = m_index->samples();
    for (std::size_t i = 0; i < m_slot.size(); ++i) {
        // Only images decoded or read in this call have a stamp (stamps[i].size > 0).
        if (m_slot[i] < 0 || !m_ready[std::size_t(m_slot[i])] || stamps[i].size == 0)
            continue;
        DecodedPack::Image image;
        image.entry.path = samples[i].path;
        image.entry.stamp = stamps[i];
        image.entry.warning = warnings[i];
        image.pixels = m_storage.get() + std::size_t(m_slot[i]) * imageBytes();
        images.push_back(std::move(image));
    }
    try {
        std::filesystem::create_directories(store.directory());
        removeStaleTemporaryFiles(store.directory());
        DecodedPack::write(m_storeUse.packPath, m_index->root(), decodeSettings(),
                           std::move(images));
        m_storeUse.written = true;
        m_storeUse.evicted = store.enforceLimit(m_storeUse.packPath);
    } catch (const std::exception& e) {  // a cache that cannot be written costs time only
        m_storeUse.writeProblem = e.what();
    }
}

std::string storeUseText(const StoreUse& u) {
    const std::string where = u.packPath.empty() ? std::string("(none)") : u.packPath;
    std::string text = "Decoded-image cache: ";
    if (!u.problem.empty())
        text += where + " was " + u.problem + "; ";
    if (u.fromStore == 0) {
        text += std::to_string(u.decoded) + " images decoded";
    } else {
        text += std::to_string(u.fromStore) + " images read from " + where;
        if (u.decoded == 0)
            text += ", none decoded";
        else if (u.damaged == 0)
            text += ", " + std::to_string(u.decoded) + " new or changed decoded";
        else
            text += ", " + std::to_string(u.decoded) + " decoded (" + std::to_string(u.damaged) +
                    " of them failed their checksum in the cache)";
    }
    if (u.written) {
        std::error_code ec;
        text += u.fromStore > 0 ? "; cache updated" : "; kept in " + where + " for the next run";
        text += " (" + readableBytes(std::filesystem::file_size(u.packPath, ec)) + ")";
    }
    if (!u.writeProblem.empty())
        text += "; not kept: " + u.writeProblem;
    for (const std::string& path : u.evicted)
        text += "; removed the least recently used " + path + " to stay within the limit";
    return text;
}

cv::Mat ImageCache::image(std::size_t sampleIndex) const {
    const std::int64_t slot = m_slot.at(sampleIndex);
    if (slot >= 0 && m_ready[std::size_t(slot)]) {
        return cv::Mat(m_options.height, m_options.width, CV_8UC3,
                       m_storage.get() + std::size_t(slot) * imageBytes());
    }
    return decodeImageFile(m_index->samples().at(sampleIndex).path, decodeOptionsFor(m_options));
}

}  // namespace convscope
