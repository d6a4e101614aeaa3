#pragma once

#include <cstddef>
#include <cstdint>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

namespace convscope {

/// What a decoded image depends on besides its file: the decoded size and the pixel limit.
struct DecodeSettings {
    int width = 0;
    int height = 0;
    std::uint64_t maxPixels = 0;
};

/// A file's identity for the store: its size and modification time (nanoseconds).
struct FileStamp {
    std::uint64_t size = 0;
    std::int64_t modifiedNs = 0;
    bool operator==(const FileStamp&) const = default;
};

/// The stamp of `path`; nothing (size 0, time 0) when it cannot be read.
FileStamp fileStamp(const std::string& path);

/// One image of a pack: where its pixels are and what they were decoded from.
struct PackEntry {
    std::string path;
    FileStamp stamp;
    std::uint64_t offset = 0;
    std::uint32_t crc = 0;
    std::string warning;  ///< what the decoder warned when it decoded the file, else empty
};

/// The decoded images of one dataset folder at one DecodeSettings, in one file: a header, the
/// pixels (width x height x 3 bytes each), then an index of PackEntry. The header and the
/// index carry CRC-32s, and so does each image, checked as it is read: a damaged file is
/// reported, never trusted.
class DecodedPack {
public:
    /// Opens and checks a pack written for `settings`. Nothing, with `problem` set, when the
    /// file is missing ("" then), damaged, or written for other settings or by another version.
    static std::unique_ptr<DecodedPack> open(const std::string& path,
                                             const DecodeSettings& settings, std::string* problem);
    ~DecodedPack();

    const std::string& datasetRoot() const { return m_root; }
    const DecodeSettings& settings() const { return m_settings; }
    std::size_t imageCount() const { return m_entries.size(); }
    const PackEntry* entry(std::size_t i) const { return &m_entries.at(i); }
    /// The entry for `path` when its stamp is `stamp`; else null (the file changed).
    const PackEntry* find(const std::string& path, const FileStamp& stamp) const;
    /// Reads the entry's pixels into `pixels` (width x height x 3 bytes). False when they do
    /// not match their CRC. Thread-safe.
    bool read(const PackEntry& entry, std::uint8_t* pixels) const;

    /// Only the header and the index (for listings), or nothing when unreadable.
    static std::unique_ptr<DecodedPack> describe(const std::string& path);

    /// One image to write: its entry (offset and CRC are filled in) and its pixels.
    struct Image {
        PackEntry entry;
        const std::uint8_t* pixels = nullptr;
    };
    /// Writes a pack to a temporary file beside `path`, then renames it over `path`, so a
    /// reader sees the old pack or the whole new one. Throws convscope::Error.
    static void write(const std::string& path, const std::string& datasetRoot,
                      const DecodeSettings& settings, std::vector<Image> images);

private:
    DecodedPack() = default;
    static std::unique_ptr<DecodedPack> load(const std::string& path, std::string* problem);

    int m_fd = -1;
    std::string m_root;
    DecodeSettings m_settings;
    std::vector<PackEntry> m_entries;
    std::vector<std::size_t> m_byPath;  // m_entries' indices sorted by path
};

/// The persistent cache of decoded images on disk: a folder of packs, bounded in size (the
/// least recently used packs go first), so that a later run on the same data skips decoding.
/// Where it is: $CONVSCOPE_CACHE_DIR, else $XDG_CACHE_HOME/convscope/decoded, else
/// ~/.cache/convscope/decoded.
class DecodedStore {
public:
    static constexpr std::uint64_t kDefaultLimitBytes = 2ull << 30;

    static std::string defaultDirectory();
    explicit DecodedStore(std::string directory = defaultDirectory());

    const std::string& directory() const { return m_directory; }
    /// The most the packs together may take on disk (the folder's `limit` file, else 2 GiB).
    std::uint64_t limitBytes() const;
    void setLimitBytes(std::uint64_t bytes) const;

    /// The pack file for a dataset folder at given settings.
    std::string packPath(const std::string& datasetRoot, const DecodeSettings& settings) const;

    struct PackInfo {
        std::string path;
        std::string datasetRoot;  ///< empty when the pack cannot be read
        DecodeSettings settings;
        std::size_t images = 0;
        std::uint64_t bytes = 0;
        std::time_t lastUsed = 0;
    };
    /// Every pack, the most recently used first.
    std::vector<PackInfo> packs() const;
    struct Usage {
        std::size_t packs = 0;
        std::uint64_t bytes = 0;
    };
    /// How many packs and bytes, without reading them.
    Usage usage() const;
    std::uint64_t bytesUsed() const { return usage().bytes; }
    /// Marks a pack as just used (what the size limit keeps longest).
    void touch(const std::string& packPath) const;
    /// Removes the least recently used packs until the rest fit the limit, `keep` last of
    /// all. Returns the removed packs' paths.
    std::vector<std::string> enforceLimit(const std::string& keep = {}) const;
    /// Removes every pack, and temporary files left by processes that no longer run; returns
    /// how many packs and bytes went.
    Usage clear() const;

private:
    /// The pack files with their sizes and last use, without reading them.
    std::vector<PackInfo> packFiles() const;

    std::string m_directory;
};

}  // namespace convscope
