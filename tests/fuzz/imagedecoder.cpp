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

// What decodeImageBytes gives: pixels and warning, or the error it threw.
struct Outcome {
    cv::Mat pixels;
    std::string warning;
    bool failed = false;
    std::string subject, reason;
};

Outcome decodeOutcome(const std::uint8_t* data, std::size_t size,
                      convscope::DecodeOptions options) {
    Outcome out;
    options.warning = &out.warning;
    try {
        out.pixels = convscope::decodeImageBytes(data, size, options, "input");
    } catch (const convscope::Error& e) {
        out.failed = true;
        out.subject = e.subject();
        out.reason = e.reason();
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
    const Outcome own = decodeOutcome(data, size, options);
    if (own.failed) {
        if (own.subject != "input" || own.reason.empty())
            std::abort();
    } else {
        const cv::Mat& rgb = own.pixels;
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
            const Outcome placed = decodeOutcome(data, size, into);
            if (placed.failed || placed.pixels.data != memory.data() ||
                cv::norm(placed.pixels, rgb, cv::NORM_INF) != 0)
                std::abort();
        }
    }
    if (probe.ok() && probe.format == ImageFormat::Jpeg) {
        DecodeOptions libjpegs = options;
        libjpegs.libjpegHuffman = true;
        const Outcome theirs = decodeOutcome(data, size, libjpegs);
        if (own.failed != theirs.failed || own.subject != theirs.subject ||
            own.reason != theirs.reason || own.warning != theirs.warning ||
            own.pixels.size() != theirs.pixels.size() ||
            (!own.pixels.empty() && cv::norm(own.pixels, theirs.pixels, cv::NORM_INF) != 0))
            std::abort();
    }
    return 0;
}
