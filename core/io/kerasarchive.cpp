#include "io/kerasarchive.h"

#include "error.h"
#include "util/checksum.h"

#include <nlohmann/json.hpp>
#include <zlib.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <unistd.h>

namespace convscope {

namespace {

namespace fs = std::filesystem;

/// Archive entries past this size are refused: a damaged or hostile directory.
constexpr std::uint64_t kMaxEntryBytes = std::uint64_t(8) << 30;

std::uint32_t le32(const unsigned char* p) {
    return std::uint32_t(p[0]) | std::uint32_t(p[1]) << 8 | std::uint32_t(p[2]) << 16 |
           std::uint32_t(p[3]) << 24;
}

std::uint16_t le16(const unsigned char* p) {
    return std::uint16_t(p[0] | p[1] << 8);
}

struct Entry {
    std::uint16_t method = 0;
    std::uint32_t crc = 0;
    std::uint64_t compressedBytes = 0;
    std::uint64_t bytes = 0;
    std::uint64_t localHeader = 0;
};

/// The zip's central directory: entry name -> where and how it is stored.
class ZipReader {
public:
    explicit ZipReader(std::string path) : m_path(std::move(path)), m_in(m_path, std::ios::binary) {
        if (!m_in)
            fail("cannot open");
        m_in.seekg(0, std::ios::end);
        const std::uint64_t size = std::uint64_t(m_in.tellg());
        // The end record (22 bytes) sits within the last 64 KiB + 22 (its comment is shorter).
        const std::uint64_t tail = std::min<std::uint64_t>(size, 65535 + 22);
        std::vector<unsigned char> end = readAt(size - tail, tail);
        std::optional<std::size_t> at;
        for (std::size_t i = end.size() >= 22 ? end.size() - 22 + 1 : 0; i-- > 0;)
            if (le32(&end[i]) == 0x06054b50) {
                at = i;
                break;
            }
        if (!at)
            fail("not a zip archive (no end of central directory)");
        const unsigned char* e = &end[*at];
        const std::uint16_t count = le16(e + 10);
        const std::uint32_t dirBytes = le32(e + 12), dirOffset = le32(e + 16);
        if (std::uint64_t(dirOffset) + dirBytes > size)
            fail("damaged zip archive (its directory lies past the end)");
        const std::vector<unsigned char> dir = readAt(dirOffset, dirBytes);
        std::size_t p = 0;
        for (std::uint16_t k = 0; k < count; ++k) {
            if (p + 46 > dir.size() || le32(&dir[p]) != 0x02014b50)
                fail("damaged zip archive (a directory entry is cut short)");
            const unsigned char* d = &dir[p];
            Entry entry{le16(d + 10), le32(d + 16), le32(d + 20), le32(d + 24), le32(d + 42)};
            const std::size_t nameBytes = le16(d + 28), extra = le16(d + 30),
                              comment = le16(d + 32);
            if (p + 46 + nameBytes > dir.size())
                fail("damaged zip archive (a name is cut short)");
            m_entries[std::string(reinterpret_cast<const char*>(d + 46), nameBytes)] = entry;
            p += 46 + nameBytes + extra + comment;
        }
        m_size = size;
    }

    bool has(const std::string& name) const { return m_entries.count(name) > 0; }

    std::vector<unsigned char> read(const std::string& name) {
        const auto it = m_entries.find(name);
        if (it == m_entries.end())
            fail("has no " + name + " (not a .keras file Keras 3 writes)");
        const Entry& e = it->second;
        if (e.bytes > kMaxEntryBytes || e.compressedBytes > kMaxEntryBytes)
            fail(name + " is larger than 8 GiB");
        const std::vector<unsigned char> local = readAt(e.localHeader, 30);
        if (le32(local.data()) != 0x04034b50)
            fail("damaged zip archive (no local header for " + name + ")");
        const std::uint64_t data = e.localHeader + 30 + le16(&local[26]) + le16(&local[28]);
        if (data + e.compressedBytes > m_size)
            fail("damaged zip archive (" + name + " runs past the end)");
        std::vector<unsigned char> stored = readAt(data, e.compressedBytes);
        if (e.method != 0 && e.method != 8)
            fail(name + " is compressed with method " + std::to_string(e.method) +
                 "; ConvScope reads stored and deflated entries");
        std::vector<unsigned char> out =
            e.method == 8 ? inflated(stored, e.bytes, name) : std::move(stored);
        if (out.size() != e.bytes)
            fail("damaged zip archive (" + name + " has the wrong size)");
        if (crc32Of(out.data(), out.size()) != e.crc)
            fail("damaged zip archive (" + name + " fails its CRC check)");
        return out;
    }

private:
    [[noreturn]] void fail(const std::string& why) const { throw Error(m_path, why); }

    std::vector<unsigned char> readAt(std::uint64_t offset, std::uint64_t bytes) {
        std::vector<unsigned char> out(bytes);
        m_in.clear();
        m_in.seekg(std::streamoff(offset));
        m_in.read(reinterpret_cast<char*>(out.data()), std::streamsize(bytes));
        if (std::uint64_t(m_in.gcount()) != bytes)
            fail("truncated zip archive");
        return out;
    }

    std::vector<unsigned char> inflated(std::vector<unsigned char>& in, std::uint64_t bytes,
                                        const std::string& name) const {
        std::vector<unsigned char> out(bytes);
        z_stream z{};
        if (inflateInit2(&z, -MAX_WBITS) != Z_OK)
            fail("cannot inflate " + name);
        z.next_in = in.data();
        z.avail_in = uInt(in.size());
        z.next_out = out.data();
        z.avail_out = uInt(out.size());
        const int status = inflate(&z, Z_FINISH);
        const bool whole = status == Z_STREAM_END && z.total_out == bytes;
        inflateEnd(&z);
        if (!whole)
            fail("damaged zip archive (" + name + " does not inflate to its size)");
        return out;
    }

    std::string m_path;
    std::ifstream m_in;
    std::uint64_t m_size = 0;
    std::map<std::string, Entry> m_entries;
};

std::string text(const std::vector<unsigned char>& bytes) {
    return std::string(bytes.begin(), bytes.end());
}

/// A temporary file that is removed when this goes out of scope.
class TemporaryFile {
public:
    explicit TemporaryFile(const std::vector<unsigned char>& contents) {
        static std::atomic<int> counter{0};
        m_path = fs::temp_directory_path() / ("convscope-" + std::to_string(::getpid()) + "-" +
                                              std::to_string(counter++) + ".weights.h5");
        std::ofstream out(m_path, std::ios::binary | std::ios::trunc);
        out.write(reinterpret_cast<const char*>(contents.data()), std::streamsize(contents.size()));
        if (!out)
            throw Error(m_path.string(), "cannot write a temporary file");
    }
    ~TemporaryFile() {
        std::error_code ignored;
        fs::remove(m_path, ignored);
    }
    TemporaryFile(const TemporaryFile&) = delete;
    TemporaryFile& operator=(const TemporaryFile&) = delete;
    std::string path() const { return m_path.string(); }

private:
    fs::path m_path;
};

}  // namespace

bool isKerasArchive(const std::string& path) {
    try {
        ZipReader zip(path);
        return zip.has("config.json") && zip.has("model.weights.h5");
    } catch (const std::exception&) {
        return false;
    }
}

KerasArchive readKerasArchive(const std::string& path, bool withValues) {
    return atBoundary(path, [&] {
        ZipReader zip(path);
        KerasArchive out;
        out.modelConfig = text(zip.read("config.json"));
        if (zip.has("metadata.json")) {
            const auto meta = nlohmann::json::parse(text(zip.read("metadata.json")), nullptr,
                                                    /*allow_exceptions=*/false);
            if (meta.is_object())
                out.kerasVersion = meta.value("keras_version", "");
        }
        const TemporaryFile weights(zip.read("model.weights.h5"));
        try {
            out.weights = readKerasWeights(weights.path(), withValues);
        } catch (const Error& e) {
            throw Error(path, "model.weights.h5: " + e.reason());
        }
        return out;
    });
}

}  // namespace convscope
