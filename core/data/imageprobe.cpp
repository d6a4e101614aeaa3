#include "data/imageprobe.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <limits>
#include <vector>

namespace convscope {

namespace {

constexpr std::size_t kHeadBytes = 64 * 1024;
constexpr std::size_t kTailBytes = 4 * 1024;

std::uint32_t be16(const unsigned char* p) {
    return (p[0] << 8) | p[1];
}
std::uint32_t be32(const unsigned char* p) {
    return (std::uint32_t(p[0]) << 24) | (p[1] << 16) | (p[2] << 8) | p[3];
}
std::uint32_t le16(const unsigned char* p) {
    return p[0] | (p[1] << 8);
}
std::uint32_t le32(const unsigned char* p) {
    return p[0] | (p[1] << 8) | (p[2] << 16) | (std::uint32_t(p[3]) << 24);
}
std::uint32_t le24(const unsigned char* p) {
    return p[0] | (p[1] << 8) | (p[2] << 16);
}

struct Bytes {
    const unsigned char* head;
    std::size_t headSize;
    const unsigned char* tail;  // the file's last bytes (may overlap head)
    std::size_t tailSize;
    std::uint64_t fileSize;
};

ImageFormat sniff(const Bytes& b) {
    const unsigned char* p = b.head;
    const std::size_t n = b.headSize;
    if (n >= 3 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF)
        return ImageFormat::Jpeg;
    if (n >= 8 && std::memcmp(p, "\x89PNG\r\n\x1a\n", 8) == 0)
        return ImageFormat::Png;
    if (n >= 2 && p[0] == 'B' && p[1] == 'M')
        return ImageFormat::Bmp;
    if (n >= 4 && (std::memcmp(p, "II*\0", 4) == 0 || std::memcmp(p, "MM\0*", 4) == 0))
        return ImageFormat::Tiff;
    if (n >= 12 && std::memcmp(p, "RIFF", 4) == 0 && std::memcmp(p + 8, "WEBP", 4) == 0)
        return ImageFormat::WebP;
    if (n >= 4 && std::memcmp(p, "GIF8", 4) == 0)
        return ImageFormat::Gif;
    return ImageFormat::Unknown;
}

bool tailContains(const Bytes& b, const char* needle, std::size_t len) {
    if (b.tailSize < len)
        return false;
    for (std::size_t i = b.tailSize - len + 1; i-- > 0;) {
        if (std::memcmp(b.tail + i, needle, len) == 0)
            return true;
    }
    return false;
}

void readJpeg(const Bytes& b, ImageProbe& r) {
    const unsigned char* p = b.head;
    std::size_t i = 2;
    while (i + 9 < b.headSize) {
        if (p[i] != 0xFF) {
            r.problem = "corrupt JPEG (bad marker before the frame header)";
            return;
        }
        const unsigned char marker = p[i + 1];
        if (marker == 0xFF) {  // fill byte
            ++i;
            continue;
        }
        const bool isFrame =
            marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
        if (isFrame) {
            r.height = int(be16(p + i + 5));
            r.width = int(be16(p + i + 7));
            break;
        }
        if (marker == 0xD9 || marker == 0xDA) {
            r.problem = "corrupt JPEG (no frame header)";
            return;
        }
        i += 2 + be16(p + i + 2);
    }
    if (r.width == 0 && r.problem.empty()) {
        r.problem = b.fileSize <= b.headSize ? "truncated JPEG (ends before the frame header)"
                                             : "JPEG frame header not found in the first 64 KiB";
        return;
    }
    // Cameras and editors sometimes pad after the end marker, so look for it near the end.
    if (!tailContains(b, "\xFF\xD9", 2))
        r.problem = "truncated JPEG (no end marker)";
}

void readPng(const Bytes& b, ImageProbe& r) {
    if (b.headSize < 24 || std::memcmp(b.head + 12, "IHDR", 4) != 0) {
        r.problem = "corrupt PNG (no IHDR chunk)";
        return;
    }
    r.width = int(be32(b.head + 16));
    r.height = int(be32(b.head + 20));
    if (!tailContains(b, "IEND", 4))
        r.problem = "truncated PNG (no IEND chunk)";
}

void readBmp(const Bytes& b, ImageProbe& r) {
    if (b.headSize < 26) {
        r.problem = "truncated BMP (header incomplete)";
        return;
    }
    const std::uint32_t dataOffset = le32(b.head + 10);
    const std::uint32_t infoSize = le32(b.head + 14);
    if (infoSize == 12) {
        r.width = int(le16(b.head + 18));
        r.height = int(le16(b.head + 20));
        return;
    }
    if (infoSize < 40 || b.headSize < 34) {
        r.problem = "corrupt BMP (unknown header)";
        return;
    }
    r.width = int(std::int32_t(le32(b.head + 18)));
    const std::int32_t h = std::int32_t(le32(b.head + 22));
    // Negative for a top-down image; the most negative has no positive counterpart.
    if (h == std::numeric_limits<std::int32_t>::min()) {
        r.problem = "corrupt BMP (impossible height)";
        return;
    }
    r.height = h < 0 ? -h : h;
    const std::uint32_t bitsPerPixel = le16(b.head + 28);
    const std::uint32_t compression = le32(b.head + 30);
    if (compression == 0 && r.width > 0 && bitsPerPixel > 0) {
        const std::uint64_t rowBytes = ((std::uint64_t(bitsPerPixel) * r.width + 31) / 32) * 4;
        if (dataOffset + rowBytes * std::uint64_t(r.height) > b.fileSize)
            r.problem = "truncated BMP (pixel data shorter than the header says)";
    }
}

void readTiff(const Bytes& b, ImageProbe& r, int fd) {
    const bool little = b.head[0] == 'I';
    auto u16 = [&](const unsigned char* p) { return little ? le16(p) : be16(p); };
    auto u32 = [&](const unsigned char* p) { return little ? le32(p) : be32(p); };
    const std::uint32_t ifdOffset = b.headSize >= 8 ? u32(b.head + 4) : 0;
    std::vector<unsigned char> ifd;
    const unsigned char* q = nullptr;
    std::size_t avail = 0;
    // 64-bit sums: an offset near 2^32 must not wrap around into the buffer.
    if (std::uint64_t(ifdOffset) + 2 <= b.headSize) {
        q = b.head + ifdOffset;
        avail = b.headSize - ifdOffset;
    } else if (fd >= 0 && std::uint64_t(ifdOffset) + 2 <= b.fileSize) {
        ifd.resize(std::min<std::uint64_t>(4096, b.fileSize - ifdOffset));
        const ssize_t got = pread(fd, ifd.data(), ifd.size(), off_t(ifdOffset));
        if (got > 0) {
            q = ifd.data();
            avail = std::size_t(got);
        }
    }
    if (!q) {
        r.problem = "truncated TIFF (directory missing)";
        return;
    }
    const std::uint32_t count = u16(q);
    for (std::uint32_t e = 0; e < count && 2 + 12 * (e + 1) <= avail; ++e) {
        const unsigned char* entry = q + 2 + 12 * e;
        const std::uint32_t tag = u16(entry);
        const std::uint32_t type = u16(entry + 2);
        const std::uint32_t value = type == 3 ? u16(entry + 8) : u32(entry + 8);
        // libtiff keeps the first of duplicated tags; refusing them keeps the limit honest.
        if ((tag == 256 && r.width > 0) || (tag == 257 && r.height > 0)) {
            r.width = r.height = 0;
            r.problem = tag == 256 ? "corrupt TIFF (ImageWidth given twice)"
                                   : "corrupt TIFF (ImageLength given twice)";
            return;
        }
        if (tag == 256)
            r.width = int(value);
        if (tag == 257)
            r.height = int(value);
    }
    if (r.width <= 0 || r.height <= 0)
        r.problem = "corrupt TIFF (no image size)";
}

void readWebP(const Bytes& b, ImageProbe& r) {
    const unsigned char* p = b.head;
    if (b.headSize < 30) {
        r.problem = "truncated WebP (header incomplete)";
        return;
    }
    if (std::memcmp(p + 12, "VP8 ", 4) == 0) {
        r.width = int(le16(p + 26) & 0x3FFF);
        r.height = int(le16(p + 28) & 0x3FFF);
    } else if (std::memcmp(p + 12, "VP8L", 4) == 0) {
        const std::uint32_t bits = le32(p + 21);
        r.width = int((bits & 0x3FFF) + 1);
        r.height = int(((bits >> 14) & 0x3FFF) + 1);
    } else if (std::memcmp(p + 12, "VP8X", 4) == 0) {
        r.width = int(le24(p + 24) + 1);
        r.height = int(le24(p + 27) + 1);
    } else {
        r.problem = "corrupt WebP (unknown chunk)";
        return;
    }
    if (le32(p + 4) + 8 > b.fileSize)
        r.problem = "truncated WebP (file shorter than its header says)";
}

ImageProbe classify(const Bytes& b, std::uint64_t maxPixels, int fd) {
    ImageProbe r;
    r.fileBytes = b.fileSize;
    if (b.fileSize == 0) {
        r.problem = "empty file (0 bytes)";
        return r;
    }
    r.format = sniff(b);
    switch (r.format) {
        case ImageFormat::Jpeg:
            readJpeg(b, r);
            break;
        case ImageFormat::Png:
            readPng(b, r);
            break;
        case ImageFormat::Bmp:
            readBmp(b, r);
            break;
        case ImageFormat::Tiff:
            readTiff(b, r, fd);
            break;
        case ImageFormat::WebP:
            readWebP(b, r);
            break;
        case ImageFormat::Gif:
            r.problem = "GIF is not supported (convert it to PNG)";
            return r;
        case ImageFormat::Unknown:
            if (b.headSize >= 4 && le32(b.head) == 0x07160500u)
                r.problem = "not an image (AppleDouble resource fork)";
            else if (b.headSize >= 8 && std::memcmp(b.head + 4, "Bud1", 4) == 0)
                r.problem = "not an image (macOS .DS_Store folder metadata)";
            else
                r.problem = "not an image (unrecognised file signature)";
            return r;
    }
    if (!r.ok())
        return r;
    if (r.width <= 0 || r.height <= 0) {
        r.problem = std::string("corrupt ") + formatName(r.format) + " (zero image size)";
        return r;
    }
    const std::uint64_t pixels = std::uint64_t(r.width) * std::uint64_t(r.height);
    if (pixels > maxPixels) {
        r.problem = "image too large (" + std::to_string(r.width) + "x" + std::to_string(r.height) +
                    " pixels, limit " + std::to_string(maxPixels) +
                    "): refused as a possible decompression bomb";
    }
    return r;
}

}  // namespace

const char* formatName(ImageFormat format) {
    switch (format) {
        case ImageFormat::Jpeg:
            return "JPEG";
        case ImageFormat::Png:
            return "PNG";
        case ImageFormat::Bmp:
            return "BMP";
        case ImageFormat::Tiff:
            return "TIFF";
        case ImageFormat::WebP:
            return "WebP";
        case ImageFormat::Gif:
            return "GIF";
        case ImageFormat::Unknown:
            break;
    }
    return "unknown";
}

ImageProbe probeImageFile(const std::string& path, std::uint64_t maxPixels) {
    ImageProbe r;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        const int err = errno;
        r.problem = err == EACCES ? "cannot read (permission denied)"
                                  : std::string("cannot open (") + std::strerror(err) + ")";
        return r;
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        r.problem = "not a regular file";
        return r;
    }
    const std::uint64_t size = std::uint64_t(st.st_size);
    std::vector<unsigned char> head(std::min<std::uint64_t>(size, kHeadBytes));
    std::array<unsigned char, kTailBytes> tail{};
    std::size_t tailSize = 0;
    ssize_t got = head.empty() ? 0 : ::pread(fd, head.data(), head.size(), 0);
    if (got < 0) {
        const int err = errno;
        ::close(fd);
        r.problem = std::string("cannot read (") + std::strerror(err) + ")";
        return r;
    }
    head.resize(std::size_t(got));
    if (size > head.size()) {
        tailSize = std::size_t(std::min<std::uint64_t>(size, kTailBytes));
        const ssize_t t = ::pread(fd, tail.data(), tailSize, off_t(size - tailSize));
        tailSize = t > 0 ? std::size_t(t) : 0;
    }
    Bytes b{head.data(), head.size(), tailSize ? tail.data() : head.data(),
            tailSize ? tailSize : head.size(), size};
    r = classify(b, maxPixels, fd);
    ::close(fd);
    return r;
}

ImageProbe probeImageBytes(const unsigned char* data, std::size_t size, std::uint64_t maxPixels) {
    const std::size_t tailSize = std::min<std::size_t>(size, kTailBytes);
    Bytes b{data, size, data + size - tailSize, tailSize, size};
    return classify(b, maxPixels, -1);
}

}  // namespace convscope
