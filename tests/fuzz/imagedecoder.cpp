// The image probe and decoder on arbitrary bytes: every input either decodes to 8-bit RGB or is
// refused with convscope::Error; the probe and the decoder agree on what they accept; decoding
// into the caller's memory gives the same pixels; ConvScope's JPEG Huffman decoder gives the
// same result as libjpeg-turbo's (pixels, warning or error).
#include "data/imagedecoder.h"
#include "data/imageprobe.h"
#include "error.h"

#include <opencv2/core.hpp>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

// What decodeImageBytes gives: pixels and warning, or the error's text.
struct Outcome {
    cv::Mat pixels;
    std::string warning, error;
};

Outcome decodeOutcome(const std::uint8_t* data, std::size_t size,
                      convscope::DecodeOptions options) {
    Outcome out;
    options.warning = &out.warning;
    try {
        out.pixels = convscope::decodeImageBytes(data, size, options, "input");
    } catch (const convscope::Error& e) {
        out.error = e.what();
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace convscope;
    // A lower pixel limit than the default keeps every decode within the fuzzer's memory limit.
    constexpr std::uint64_t kMaxPixels = 4'000'000;
    const ImageProbe probe = probeImageBytes(data, size, kMaxPixels);
    if (probe.ok() && (probe.width <= 0 || probe.height <= 0))
        std::abort();

    DecodeOptions options;
    options.maxPixels = kMaxPixels;
    if (size % 2) {  // the resizing and reduced-scale JPEG paths, on half the inputs
        options.width = 24;
        options.height = 16;
        options.keepAspect = size % 4 == 1;
    }
    try {
        const cv::Mat rgb = decodeImageBytes(data, size, options, "input");
        if (!probe.ok() || rgb.empty() || rgb.type() != CV_8UC3)
            std::abort();
        if (options.width > 0 && !options.keepAspect &&
            (rgb.cols != options.width || rgb.rows != options.height))
            std::abort();
        // Decoded into memory of the caller's (as the image cache does): the same pixels, there.
        if (options.width > 0 && !options.keepAspect) {
            std::vector<std::uint8_t> memory(std::size_t(options.width) * options.height * 3);
            DecodeOptions into = options;
            into.into = memory.data();
            const cv::Mat placed = decodeImageBytes(data, size, into, "input");
            if (placed.data != memory.data() || cv::norm(placed, rgb, cv::NORM_INF) != 0)
                std::abort();
        }
    } catch (const Error& e) {
        if (e.subject() != "input" || e.reason().empty())
            std::abort();
    }
    if (probe.ok() && probe.format == ImageFormat::Jpeg) {
        const Outcome own = decodeOutcome(data, size, options);
        DecodeOptions libjpegs = options;
        libjpegs.libjpegHuffman = true;
        const Outcome theirs = decodeOutcome(data, size, libjpegs);
        if (own.error != theirs.error || own.warning != theirs.warning ||
            own.pixels.size() != theirs.pixels.size() ||
            (!own.pixels.empty() && cv::norm(own.pixels, theirs.pixels, cv::NORM_INF) != 0))
            std::abort();
    }
    return 0;
}
