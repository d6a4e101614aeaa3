#include "data/decodedstore.h"

#include "error.h"
#include "util/atomicfile.h"
#include "util/checksum.h"
#include "util/text.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace convscope {

namespace {

// Raise when the decoder's output for the same file and settings changes (a new resize
// rule, another colour conversion): packs of an older revision are then decoded afresh.
// 2: resizes below twice the training size use ConvScope's own bilinear resize (positions
// to 1/64 pixel), not OpenCV's INTER_LINEAR.
constexpr std::uint32_t kDecodeRevision = 2;
constexpr std::uint32_t kFormatVersion = 1;
constexpr char kMagic[8] = {'C', 'S', 'D', 'E', 'C', 'O', 'D', 'E'};
constexpr std::size_t kHeaderBytes = 64;
constexpr std::uint32_t kMaxSide = 1 << 15;
// An entry's fixed fields: path and warning lengths, size, time, offset and CRC-32.
constexpr std::uint64_t kLeastEntryBytes = 4 + 8 + 8 + 8 + 4 + 4;
// The magic, five 32-bit and four 64-bit fields; the header's CRC-32 follows them.
constexpr std::size_t kHeaderChecked = sizeof kMagic + 5 * 4 + 4 * 8;

std::size_t imageBytes(const DecodeSettings& s) {
    return std::size_t(s.width) * std::size_t(s.height) * 3;
}

// Little-endian fields in a byte string (every machine ConvScope builds for is one).
class Writer {
public:
    template <class T>
    void put(T value) {
        const auto* p = reinterpret_cast<const char*>(&value);
        bytes.append(p, sizeof(T));
    }
    void putString(const std::string& s) {
        put(std::uint32_t(s.size()));
        bytes += s;
    }
    std::string bytes;
};

class Reader {
public:
    Reader(const char* data, std::size_t size) : m_data(data), m_left(size) {}
    template <class T>
    bool get(T& value) {
        if (m_left < sizeof(T))
            return false;
        std::memcpy(&value, m_data, sizeof(T));
        m_data += sizeof(T);
        m_left -= sizeof(T);
        return true;
    }
    bool getString(std::string& s) {
        std::uint32_t n = 0;
        if (!get(n) || m_left < n)
            return false;
        s.assign(m_data, n);
        m_data += n;
        m_left -= n;
        return true;
    }
    bool atEnd() const { return m_left == 0; }

private:
    const char* m_data;
    std::size_t m_left;
};

struct Header {
    DecodeSettings settings;
    std::uint32_t revision = 0;
    std::uint64_t entries = 0;
    std::uint64_t indexOffset = 0;
    std::uint64_t indexBytes = 0;
    std::uint32_t indexCrc = 0;
};

std::string headerBytes(const Header& h) {
    Writer w;
    w.bytes.append(kMagic, sizeof kMagic);
    w.put(kFormatVersion);
    w.put(h.revision);
    w.put(std::uint32_t(h.settings.width));
    w.put(std::uint32_t(h.settings.height));
    w.put(h.settings.maxPixels);
    w.put(h.entries);
    w.put(h.indexOffset);
    w.put(h.indexBytes);
    w.put(h.indexCrc);
    w.put(crc32Of(w.bytes.data(), kHeaderChecked));
    w.bytes.resize(kHeaderBytes, '\0');
    return w.bytes;
}

bool readExactly(int fd, void* into, std::size_t size, std::uint64_t offset) {
    auto* p = static_cast<char*>(into);
    while (size > 0) {
        const ssize_t n = ::pread(fd, p, size, off_t(offset));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        p += n;
        size -= std::size_t(n);
        offset += std::uint64_t(n);
    }
    return true;
}

std::uint64_t fnv1a(const std::string& s) {
    std::uint64_t h = 1469598103934665603ull;
    for (unsigned char c : s) {
        h ^= c;
        h *= 1099511628211ull;
    }
    return h;
}

}  // namespace

FileStamp fileStamp(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0)
        return {};
    return {std::uint64_t(st.st_size),
            std::int64_t(st.st_mtim.tv_sec) * 1000000000 + std::int64_t(st.st_mtim.tv_nsec)};
}

DecodedPack::~DecodedPack() {
    if (m_fd >= 0)
        ::close(m_fd);
}

std::unique_ptr<DecodedPack> DecodedPack::load(const std::string& path, std::string* problem) {
    problem->clear();
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno != ENOENT)
            *problem = std::string("cannot be opened: ") + std::strerror(errno);
        return nullptr;
    }
    std::unique_ptr<DecodedPack> pack(new DecodedPack);
    pack->m_fd = fd;
    struct stat st {};
    ::fstat(fd, &st);
    const auto fileBytes = std::uint64_t(st.st_size);

    char raw[kHeaderBytes];
    if (fileBytes < kHeaderBytes || !readExactly(fd, raw, kHeaderBytes, 0)) {
        *problem = "damaged (shorter than its header)";
        return nullptr;
    }
    std::uint32_t version = 0, width = 0, height = 0, headerCrc = 0;
    Header h;
    Reader r(raw + sizeof kMagic, kHeaderBytes - sizeof kMagic);
    r.get(version);
    r.get(h.revision);
    r.get(width);
    r.get(height);
    r.get(h.settings.maxPixels);
    r.get(h.entries);
    r.get(h.indexOffset);
    r.get(h.indexBytes);
    r.get(h.indexCrc);
    r.get(headerCrc);
    if (std::memcmp(raw, kMagic, sizeof kMagic) != 0 || crc32Of(raw, kHeaderChecked) != headerCrc) {
        *problem = "damaged (its header does not match its checksum)";
        return nullptr;
    }
    if (version != kFormatVersion || h.revision != kDecodeRevision) {
        *problem = "written by another version of ConvScope";
        return nullptr;
    }
    if (width == 0 || height == 0 || width > kMaxSide || height > kMaxSide) {
        *problem = "damaged (its image size cannot be right)";
        return nullptr;
    }
    h.settings.width = int(width);
    h.settings.height = int(height);
    if (h.indexOffset < kHeaderBytes || h.indexOffset > fileBytes ||
        h.indexBytes != fileBytes - h.indexOffset) {
        *problem = "damaged (cut short)";
        return nullptr;
    }
    // Each entry takes at least kLeastEntryBytes of the index.
    if (h.entries > h.indexBytes / kLeastEntryBytes) {
        *problem = "damaged (its index cannot be read)";
        return nullptr;
    }
    std::string index(h.indexBytes, '\0');
    if (!readExactly(fd, index.data(), index.size(), h.indexOffset) ||
        crc32Of(index.data(), index.size()) != h.indexCrc) {
        *problem = "damaged (its index does not match its checksum)";
        return nullptr;
    }
    Reader in(index.data(), index.size());
    if (!in.getString(pack->m_root)) {
        *problem = "damaged (its index cannot be read)";
        return nullptr;
    }
    const std::size_t bytes = imageBytes(h.settings);
    pack->m_entries.resize(h.entries);
    for (PackEntry& e : pack->m_entries) {
        if (!in.getString(e.path) || !in.get(e.stamp.size) || !in.get(e.stamp.modifiedNs) ||
            !in.get(e.offset) || !in.get(e.crc) || !in.getString(e.warning) ||
            e.offset < kHeaderBytes || e.offset > h.indexOffset ||
            bytes > h.indexOffset - e.offset) {
            *problem = "damaged (its index cannot be read)";
            return nullptr;
        }
    }
    if (!in.atEnd()) {
        *problem = "damaged (its index cannot be read)";
        return nullptr;
    }
    pack->m_settings = h.settings;
    pack->m_byPath.resize(pack->m_entries.size());
    for (std::size_t i = 0; i < pack->m_byPath.size(); ++i)
        pack->m_byPath[i] = i;
    std::sort(pack->m_byPath.begin(), pack->m_byPath.end(), [&](std::size_t a, std::size_t b) {
        return pack->m_entries[a].path < pack->m_entries[b].path;
    });
    for (std::size_t i = 1; i < pack->m_byPath.size(); ++i)
        if (pack->m_entries[pack->m_byPath[i]].path ==
            pack->m_entries[pack->m_byPath[i - 1]].path) {
            *problem = "damaged (it names a file twice)";
            return nullptr;
        }
    return pack;
}

std::unique_ptr<DecodedPack> DecodedPack::open(const std::string& path,
                                               const DecodeSettings& settings,
                                               std::string* problem) {
    std::unique_ptr<DecodedPack> pack = load(path, problem);
    if (!pack)
        return nullptr;
    const DecodeSettings& s = pack->m_settings;
    if (s.width != settings.width || s.height != settings.height ||
        s.maxPixels != settings.maxPixels) {
        *problem = "written for other decode settings";
        return nullptr;
    }
    return pack;
}

std::unique_ptr<DecodedPack> DecodedPack::describe(const std::string& path) {
    std::string problem;
    return load(path, &problem);
}

const PackEntry* DecodedPack::find(const std::string& path, const FileStamp& stamp) const {
    const auto at = std::lower_bound(
        m_byPath.begin(), m_byPath.end(), path,
        [&](std::size_t i, const std::string& p) { return m_entries[i].path < p; });
    if (at == m_byPath.end() || m_entries[*at].path != path || !(m_entries[*at].stamp == stamp))
        return nullptr;
    return &m_entries[*at];
}

bool DecodedPack::read(const PackEntry& entry, std::uint8_t* pixels) const {
    const std::size_t bytes = imageBytes(m_settings);
    return readExactly(m_fd, pixels, bytes, entry.offset) && crc32Of(pixels, bytes) == entry.crc;
}

void DecodedPack::write(const std::string& path, const std::string& datasetRoot,
                        const DecodeSettings& settings, std::vector<Image> images) {
    const std::size_t bytes = imageBytes(settings);
    Header h;
    h.settings = settings;
    h.revision = kDecodeRevision;
    h.entries = images.size();
    Writer index;
    index.putString(datasetRoot);
    std::uint64_t offset = kHeaderBytes;
    for (Image& image : images) {
        PackEntry& e = image.entry;
        e.offset = offset;
        e.crc = crc32Of(image.pixels, bytes);
        offset += bytes;
        index.putString(e.path);
        index.put(e.stamp.size);
        index.put(e.stamp.modifiedNs);
        index.put(e.offset);
        index.put(e.crc);
        index.putString(e.warning);
    }
    h.indexOffset = offset;
    h.indexBytes = index.bytes.size();
    h.indexCrc = crc32Of(index.bytes.data(), index.bytes.size());
    // No fsync: a pack cut short by a crash fails its checksums and is decoded afresh.
    replaceFileAtomically(
        path,
        [&](const std::string& temp) {
            FileWriter out(temp, path);
            out.write(headerBytes(h).data(), kHeaderBytes);
            for (const Image& image : images)
                out.write(image.pixels, bytes);
            out.write(index.bytes.data(), index.bytes.size());
            out.finish();
        },
        Durability::Unsynced);
}

std::string DecodedStore::defaultDirectory() {
    if (const char* dir = std::getenv("CONVSCOPE_CACHE_DIR"); dir && *dir)
        return dir;
    if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg)
        return (fs::path(xdg) / "convscope" / "decoded").string();
    const char* home = std::getenv("HOME");
    return (fs::path(home && *home ? home : "/tmp") / ".cache" / "convscope" / "decoded").string();
}

DecodedStore::DecodedStore(std::string directory) : m_directory(std::move(directory)) {}

std::uint64_t DecodedStore::limitBytes() const {
    std::error_code ec;
    const fs::path file = fs::path(m_directory) / "limit";
    if (!fs::exists(file, ec))
        return kDefaultLimitBytes;
    try {
        return parseByteSize(readTextFile(file.string()));
    } catch (const Error&) {
        return kDefaultLimitBytes;  // a damaged setting falls back to the default
    }
}

void DecodedStore::setLimitBytes(std::uint64_t bytes) const {
    fs::create_directories(m_directory);
    writeTextFileAtomically((fs::path(m_directory) / "limit").string(),
                            std::to_string(bytes) + "\n");
}

std::string DecodedStore::packPath(const std::string& datasetRoot,
                                   const DecodeSettings& settings) const {
    std::error_code ec;
    fs::path root = fs::weakly_canonical(datasetRoot, ec);
    if (ec)
        root = datasetRoot;
    char name[64];
    std::snprintf(name, sizeof name, "%016llx-%dx%d.pack",
                  static_cast<unsigned long long>(
                      fnv1a(root.string() + "\n" + std::to_string(settings.maxPixels))),
                  settings.width, settings.height);
    return (fs::path(m_directory) / name).string();
}

std::vector<DecodedStore::PackInfo> DecodedStore::packFiles() const {
    std::vector<PackInfo> out;
    std::error_code ec;
    for (const fs::directory_entry& e : fs::directory_iterator(m_directory, ec)) {
        struct stat st {};
        if (e.path().extension() != ".pack" || ::stat(e.path().c_str(), &st) != 0 ||
            !S_ISREG(st.st_mode))
            continue;
        PackInfo info;
        info.path = e.path().string();
        info.bytes = std::uint64_t(st.st_size);
        info.lastUsed = st.st_mtim.tv_sec;
        out.push_back(std::move(info));
    }
    return out;
}

std::vector<DecodedStore::PackInfo> DecodedStore::packs() const {
    std::vector<PackInfo> out = packFiles();
    for (PackInfo& info : out)
        if (auto pack = DecodedPack::describe(info.path)) {
            info.datasetRoot = pack->datasetRoot();
            info.settings = pack->settings();
            info.images = pack->imageCount();
        }
    std::sort(out.begin(), out.end(), [](const PackInfo& a, const PackInfo& b) {
        return a.lastUsed != b.lastUsed ? a.lastUsed > b.lastUsed : a.path < b.path;
    });
    return out;
}

DecodedStore::Usage DecodedStore::usage() const {
    Usage u;
    for (const PackInfo& p : packFiles()) {
        ++u.packs;
        u.bytes += p.bytes;
    }
    return u;
}

void DecodedStore::touch(const std::string& packPath) const {
    ::utimensat(AT_FDCWD, packPath.c_str(), nullptr, 0);  // now, for both times
}

std::vector<std::string> DecodedStore::enforceLimit(const std::string& keep) const {
    std::vector<PackInfo> all = packFiles();
    std::uint64_t total = 0;
    for (const PackInfo& p : all)
        total += p.bytes;
    const std::uint64_t limit = limitBytes();
    // Oldest first, `keep` after every other.
    std::stable_sort(all.begin(), all.end(), [&](const PackInfo& a, const PackInfo& b) {
        const bool ka = a.path == keep, kb = b.path == keep;
        if (ka != kb)
            return kb;
        return a.lastUsed < b.lastUsed;
    });
    std::vector<std::string> removed;
    for (const PackInfo& p : all) {
        if (total <= limit)
            break;
        std::error_code ec;
        if (fs::remove(p.path, ec)) {
            total -= p.bytes;
            removed.push_back(p.path);
        }
    }
    return removed;
}

DecodedStore::Usage DecodedStore::clear() const {
    Usage removed;
    for (const PackInfo& p : packFiles()) {
        std::error_code ec;
        if (fs::remove(p.path, ec)) {
            ++removed.packs;
            removed.bytes += p.bytes;
        }
    }
    removeStaleTemporaryFiles(m_directory);  // a running process's are its own to finish
    return removed;
}

}  // namespace convscope
