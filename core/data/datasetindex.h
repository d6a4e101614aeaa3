#pragma once

#include "data/imageprobe.h"
#include "util/parallel.h"

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

namespace convscope {

enum class Split { Train, Validation };
enum class DatasetLayout {
    ClassFolders,           ///< root/<class>/..., split by a seeded stratified fraction
    TrainValidationFolders  ///< root/train/<class>/... and root/validation/<class>/...
};

const char* splitName(Split split);

struct Sample {
    std::string path;  ///< full path
    int label = 0;
    Split split = Split::Train;
    int width = 0;  ///< stored size from the header (before EXIF rotation)
    int height = 0;
    bool usable = true;  ///< false once decoding failed; the reason is in the report
};

struct SkippedFile {
    std::string path;  ///< relative to the dataset root
    std::string reason;
};

struct ImportReport {
    std::vector<SkippedFile> skipped;
    std::vector<std::string> warnings;
};

struct ScanOptions {
    double validationFraction = 0.2;  ///< ClassFolders layout only
    std::uint64_t seed = 1337;
    std::uint64_t maxPixels = kDefaultMaxPixels;
    int threads = 0;  ///< header probing threads; 0 = all cores
    const std::atomic<bool>* cancel = nullptr;
    ProgressFn progress;  ///< files probed so far
};

/// The files of a dataset folder, their classes and split, and what was skipped and why.
/// Scanning reads only headers; pixels are decoded later by ImageCache.
class DatasetIndex {
public:
    /// Scans `root` in either layout. Files that are not usable images are listed in the
    /// report, never silently dropped. Throws convscope::Error when the folder is missing,
    /// when no class folder holds an image, or when cancelled.
    static DatasetIndex scan(const std::string& root, const ScanOptions& options = {});

    const std::string& root() const { return m_root; }
    DatasetLayout layout() const { return m_layout; }
    const std::vector<std::string>& classNames() const { return m_classNames; }
    const std::vector<Sample>& samples() const { return m_samples; }
    const ImportReport& report() const { return m_report; }

    /// Indices of the usable samples of a split, in a stable order.
    std::vector<std::size_t> indices(Split split) const;
    std::size_t count(int label, Split split) const;
    std::size_t usableCount() const;

    /// Records that a sample turned out unusable (e.g. its pixels would not decode).
    void markUnusable(std::size_t sampleIndex, const std::string& reason);

    /// Adds a line to the report's warnings (an image that decoded with a library warning).
    void addWarning(const std::string& text);

    /// `path` relative to the root, for messages.
    std::string relativePath(const std::string& path) const;

private:
    std::string m_root;
    DatasetLayout m_layout = DatasetLayout::ClassFolders;
    std::vector<std::string> m_classNames;
    std::vector<Sample> m_samples;
    ImportReport m_report;
};

}  // namespace convscope
