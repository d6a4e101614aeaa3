#pragma once

#include "data/imageprobe.h"
#include "data/rgbimage.h"

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace cv {
class Mat;
}

namespace convscope {

struct DecodeOptions {
    /// Output size; 0 keeps the image's own size. Images are squashed to it, as Keras's
    /// `target_size` does, not cropped.
    int width = 0;
    int height = 0;
    /// Keep the aspect ratio: fit inside width x height instead of squashing (thumbnails).
    bool keepAspect = false;
    std::uint64_t maxPixels = kDefaultMaxPixels;
    /// Colour that transparent pixels are composited onto.
    std::array<std::uint8_t, 3> background{255, 255, 255};
    /// When set: what the decoding library warned about an image it still decoded
    /// ("Corrupt JPEG data: ..."), else empty. Such messages are never printed.
    std::string* warning = nullptr;
    /// When set: width x height x 3 bytes where the image is to go (width and height set,
    /// keepAspect off). The returned matrix then uses that memory; a resize writes there
    /// directly, any other result is copied there.
    std::uint8_t* into = nullptr;
    /// Decode the Huffman codes of JPEGs with libjpeg-turbo's own decoder instead of
    /// ConvScope's (data/jpeghuffman.h). The pixels are the same; tests and benches compare.
    bool libjpegHuffman = false;
};

/// Decodes any supported file to 8-bit RGB (CV_8UC3, R first): grey, alpha, 16-bit, palette
/// and CMYK inputs are converted, JPEG EXIF orientation is applied, large JPEGs are decoded
/// at a reduced DCT scale when that still covers the requested size.
/// Throws convscope::Error naming the file and the reason. Thread-safe.
cv::Mat decodeImageFile(const std::string& path, const DecodeOptions& options = {});

/// decodeImageFile for a whole file already in memory (`data` is only read during the call);
/// `name` is the subject of the errors it throws.
cv::Mat decodeImageBytes(const unsigned char* data, std::size_t size, const DecodeOptions& options,
                         const std::string& name);

/// decodeImageFile for callers without OpenCV.
RgbImage decodeRgbImage(const std::string& path, const DecodeOptions& options = {});

/// Copies a CV_8UC3 RGB matrix into the plain type.
RgbImage toRgbImage(const cv::Mat& rgb);

}  // namespace convscope
