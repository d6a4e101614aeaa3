#pragma once

#include <cstdint>
#include <string>

namespace convscope {

enum class ImageFormat { Unknown, Jpeg, Png, Bmp, Tiff, WebP, Gif };

const char* formatName(ImageFormat format);

/// What a quick look at a file's header and tail found, without decoding pixels.
struct ImageProbe {
    ImageFormat format = ImageFormat::Unknown;
    int width = 0;
    int height = 0;
    std::uint64_t fileBytes = 0;
    /// Empty when the file looks like a decodable image; otherwise why it is not one,
    /// in words meant for the import report ("truncated JPEG (no end marker)").
    std::string problem;

    bool ok() const { return problem.empty(); }
};

/// Largest image (width x height) decoded by default: larger ones are refused before their
/// pixels are decoded, so a decompression bomb costs a header read and nothing more.
inline constexpr std::uint64_t kDefaultMaxPixels = 100'000'000;

/// Reads at most a few kilobytes of `path` (header and tail) and classifies it.
/// Never throws: every failure, including I/O errors, is reported in `problem`.
/// Thread-safe.
ImageProbe probeImageFile(const std::string& path, std::uint64_t maxPixels = kDefaultMaxPixels);

/// Same as probeImageFile for a whole file already in memory.
ImageProbe probeImageBytes(const unsigned char* data, std::size_t size,
                           std::uint64_t maxPixels = kDefaultMaxPixels);

}  // namespace convscope
