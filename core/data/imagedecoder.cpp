#include "data/imagedecoder.h"

#include "data/bilinearresize.h"
#include "data/decoderdiagnostics.h"
#include "data/jpeghuffman.h"
#include "data/opencvcodecs.h"
#include "data/pngdecoder.h"
#include "error.h"

#include <opencv2/imgcodecs.hpp>  // the IMREAD_ constants
#include <opencv2/imgproc.hpp>

#include <jpeglib.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <vector>

namespace convscope {

namespace {

std::vector<unsigned char> readWholeFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    if (!in) {
        throw Error(path, errno == EACCES
                              ? "cannot read (permission denied)"
                              : std::string("cannot open (") + std::strerror(errno) + ")");
    }
    const std::streamsize size = in.tellg();
    std::vector<unsigned char> bytes(size > 0 ? std::size_t(size) : 0);
    in.seekg(0);
    if (size > 0 && !in.read(reinterpret_cast<char*>(bytes.data()), size))
        throw Error(path, "read error");
    return bytes;
}

int jpegReducedFlag(const ImageProbe& probe, const DecodeOptions& o) {
    if (o.width <= 0 || o.height <= 0)
        return cv::IMREAD_COLOR;
    // EXIF orientation may swap the axes, so each reduced side must cover both target sides.
    const int need = std::max(o.width, o.height);
    const int have = std::min(probe.width, probe.height);
    if (have >= 8 * need)
        return cv::IMREAD_REDUCED_COLOR_8;
    if (have >= 4 * need)
        return cv::IMREAD_REDUCED_COLOR_4;
    if (have >= 2 * need)
        return cv::IMREAD_REDUCED_COLOR_2;
    return cv::IMREAD_COLOR;
}

cv::Mat toEightBit(const cv::Mat& m) {
    if (m.depth() == CV_8U)
        return m;
    cv::Mat out;
    switch (m.depth()) {
        case CV_16U:
            m.convertTo(out, CV_8U, 1.0 / 257.0);
            break;
        case CV_32F:
        case CV_64F:
            m.convertTo(out, CV_8U, 255.0);
            break;
        default: {
            double lo = 0, hi = 0;
            cv::minMaxLoc(m.reshape(1), &lo, &hi);
            const double scale = hi > lo ? 255.0 / (hi - lo) : 1.0;
            m.convertTo(out, CV_8U, scale, -lo * scale);
        }
    }
    return out;
}

cv::Mat compositeOnBackground(const cv::Mat& colour, const cv::Mat& alpha,
                              const std::array<std::uint8_t, 3>& bgRgb) {
    cv::Mat out(colour.size(), CV_8UC3);
    for (int y = 0; y < colour.rows; ++y) {
        const auto* c = colour.ptr<cv::Vec3b>(y);
        const auto* a = alpha.ptr<std::uint8_t>(y);
        auto* o = out.ptr<cv::Vec3b>(y);
        for (int x = 0; x < colour.cols; ++x) {
            const int w = a[x];
            for (int k = 0; k < 3; ++k) {
                // colour is BGR here; bgRgb is RGB
                o[x][k] = std::uint8_t((c[x][k] * w + bgRgb[2 - k] * (255 - w) + 127) / 255);
            }
        }
    }
    return out;
}

cv::Mat toBgr(const cv::Mat& decoded, const DecodeOptions& o) {
    const cv::Mat m = toEightBit(decoded);
    cv::Mat bgr;
    switch (m.channels()) {
        case 1:
            cv::cvtColor(m, bgr, cv::COLOR_GRAY2BGR);
            break;
        case 2: {
            cv::Mat planes[2];
            cv::split(m, planes);
            cv::Mat grey;
            cv::cvtColor(planes[0], grey, cv::COLOR_GRAY2BGR);
            bgr = compositeOnBackground(grey, planes[1], o.background);
            break;
        }
        case 3:
            bgr = m;
            break;
        case 4: {
            cv::Mat planes[4];
            cv::split(m, planes);
            cv::Mat colour;
            cv::merge(planes, 3, colour);
            bgr = compositeOnBackground(colour, planes[3], o.background);
            break;
        }
        default:
            throw Error("", "unsupported channel count " + std::to_string(m.channels()));
    }
    return bgr;
}

struct JpegErrorManager {
    jpeg_error_mgr pub;
    std::jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
};

/// libjpeg's warnings ("Corrupt JPEG data: premature end of data segment") are kept, not
/// printed to stderr.
void onJpegMessage(j_common_ptr cinfo) {
    char text[JMSG_LENGTH_MAX];
    (*cinfo->err->format_message)(cinfo, text);
    keepDecoderMessage(text);
}

void onJpegError(j_common_ptr cinfo) {
    auto* e = reinterpret_cast<JpegErrorManager*>(cinfo->err);
    (*cinfo->err->format_message)(cinfo, e->message);
    std::longjmp(e->jump, 1);
}

// EXIF orientation (1..8) from a saved APP1 marker; 1 when absent or unreadable.
int exifOrientation(const jpeg_decompress_struct& cinfo) {
    for (jpeg_saved_marker_ptr m = cinfo.marker_list; m; m = m->next) {
        const JOCTET* d = m->data;
        const unsigned n = m->data_length;
        if (m->marker != JPEG_APP0 + 1 || n < 14 || std::memcmp(d, "Exif\0\0", 6) != 0)
            continue;
        const JOCTET* t = d + 6;
        const unsigned size = n - 6;
        const bool le = t[0] == 'I';
        auto u16 = [&](unsigned o) {
            return le ? unsigned(t[o] | t[o + 1] << 8) : unsigned(t[o] << 8 | t[o + 1]);
        };
        auto u32 = [&](unsigned o) {
            return le ? unsigned(t[o] | t[o + 1] << 8 | t[o + 2] << 16 | unsigned(t[o + 3]) << 24)
                      : unsigned(unsigned(t[o]) << 24 | t[o + 1] << 16 | t[o + 2] << 8 | t[o + 3]);
        };
        // 64-bit sums: an offset near 2^32 must not wrap around into the buffer.
        const std::uint64_t ifd = u32(4);
        if (ifd + 2 > size)
            return 1;
        const unsigned entries = u16(unsigned(ifd));
        for (unsigned i = 0; i < entries && ifd + 2 + 12 * (i + 1) <= size; ++i) {
            const unsigned e = unsigned(ifd) + 2 + 12 * i;
            if (u16(e) == 0x0112) {
                const unsigned v = u16(e + 8);
                return v >= 1 && v <= 8 ? int(v) : 1;
            }
        }
        return 1;
    }
    return 1;
}

// The same flips and transposes as OpenCV's imdecode, so both decode paths agree.
cv::Mat applyOrientation(const cv::Mat& img, int orientation) {
    cv::Mat out = img;
    if (orientation >= 5)
        cv::transpose(img, out);
    switch (orientation) {
        case 2:
        case 6:
            cv::flip(out, out, 1);
            break;
        case 3:
        case 7:
            cv::flip(out, out, -1);
            break;
        case 4:
        case 8:
            cv::flip(out, out, 0);
            break;
        default:
            break;
    }
    return out;
}

enum class JpegResult { Decoded, NotHandled, Failed, DecodeWithoutHuffman };

// 8-bit grey, YCbCr and RGB JPEGs go straight to RGB through libjpeg at a DCT scale of
// 1/scaleDenom: OpenCV 4.6 decodes to RGB and then swaps to BGR in place with a scalar loop
// that costs ~250 us per 400x400 photo, about as much as the decoding, and we want RGB
// anyway. CMYK and YCCK are left to OpenCV. With `huffman`, that decoder takes over the
// scan's Huffman decoding when it can; when it meets data it does not decode as libjpeg would,
// this returns DecodeWithoutHuffman. libjpeg reports errors by longjmp, so this function keeps
// only plain C objects of its own; everything with a destructor is the caller's.
JpegResult decodeJpegRgb(const unsigned char* data, std::size_t size, int scaleDenom, cv::Mat& out,
                         int& orientation, std::string& error, JpegHuffmanDecoder* huffman) {
    jpeg_decompress_struct cinfo;
    JpegErrorManager jerr;
    cinfo.err = jpeg_std_error(&jerr.pub);
    jerr.pub.error_exit = onJpegError;
    jerr.pub.output_message = onJpegMessage;
    if (setjmp(jerr.jump)) {
        jpeg_destroy_decompress(&cinfo);
        error = jerr.message;
        return JpegResult::Failed;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, static_cast<unsigned long>(size));
    jpeg_save_markers(&cinfo, JPEG_APP0 + 1, 0xffff);
    jpeg_read_header(&cinfo, TRUE);
    if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
        jpeg_destroy_decompress(&cinfo);
        return JpegResult::NotHandled;
    }
    orientation = exifOrientation(cinfo);
    cinfo.out_color_space = JCS_RGB;
    cinfo.scale_num = 1;
    cinfo.scale_denom = unsigned(scaleDenom);
    jpeg_start_decompress(&cinfo);
    const bool ownHuffman = huffman && huffman->install(cinfo);
    out.create(int(cinfo.output_height), int(cinfo.output_width), CV_8UC3);
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = out.ptr(int(cinfo.output_scanline));
        jpeg_read_scanlines(&cinfo, &row, 1);
        if (ownHuffman && huffman->failed()) {
            jpeg_destroy_decompress(&cinfo);
            return JpegResult::DecodeWithoutHuffman;
        }
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    return JpegResult::Decoded;
}

int jpegScaleDenom(int reducedFlag) {
    switch (reducedFlag) {
        case cv::IMREAD_REDUCED_COLOR_8:
            return 8;
        case cv::IMREAD_REDUCED_COLOR_4:
            return 4;
        case cv::IMREAD_REDUCED_COLOR_2:
            return 2;
        default:
            return 1;
    }
}

// Resizes a 3-channel image (either channel order) to the requested size, into `into` when it
// is set (the requested width x height, as DecodeOptions::into).
cv::Mat resizeToTarget(const cv::Mat& img, const DecodeOptions& options,
                       std::uint8_t* into = nullptr) {
    if (options.width <= 0 || options.height <= 0)
        return img;
    cv::Size size(options.width, options.height);
    if (options.keepAspect) {
        const double scale =
            std::min(double(options.width) / img.cols, double(options.height) / img.rows);
        size = cv::Size(std::max(1, int(std::lround(img.cols * scale))),
                        std::max(1, int(std::lround(img.rows * scale))));
    }
    if (size == img.size())
        return img;
    cv::Mat resized =
        into && img.type() == CV_8UC3 && size == cv::Size(options.width, options.height)
            ? cv::Mat(size, img.type(), into)
            : cv::Mat(size, img.type());
    // Area averaging avoids aliasing when shrinking a lot; below 2x (the usual case after
    // a reduced-scale JPEG decode) bilinear looks the same and costs a fraction: OpenCV's
    // area resize at a non-integer ratio took as long as the JPEG decode itself, and our
    // bilinear resize takes about half as long as OpenCV's.
    const bool shrinkingALot = img.cols >= 2 * size.width && img.rows >= 2 * size.height;
    if (shrinkingALot)
        cv::resize(img, resized, size, 0, 0, cv::INTER_AREA);
    else if (img.type() == CV_8UC3)
        resizeBilinear(img, resized);
    else
        cv::resize(img, resized, size, 0, 0, cv::INTER_LINEAR);
    return resized;
}

// The decoded image in `into` (DecodeOptions::into), when that is set.
cv::Mat placed(const cv::Mat& rgb, const DecodeOptions& options) {
    if (!options.into || rgb.data == options.into)
        return rgb;
    if (rgb.cols != options.width || rgb.rows != options.height || rgb.type() != CV_8UC3)
        throw Error("decode", "the image does not fit the memory given for it");
    cv::Mat out(rgb.size(), CV_8UC3, options.into);
    rgb.copyTo(out);
    return out;
}

}  // namespace

cv::Mat decodeImageFile(const std::string& path, const DecodeOptions& options) {
    return atBoundary(path, [&] {
        const std::vector<unsigned char> bytes = readWholeFile(path);
        return decodeImageBytes(bytes.data(), bytes.size(), options, path);
    });
}

cv::Mat decodeImageBytes(const unsigned char* data, std::size_t size, const DecodeOptions& options,
                         const std::string& path) {
    return atBoundary(path, [&] {
        const DecoderDiagnostics diagnostics;
        const auto withWarning = [&](cv::Mat decoded) {
            if (options.warning)
                *options.warning = diagnostics.message();
            return decoded;
        };
        const ImageProbe probe = probeImageBytes(data, size, options.maxPixels);
        if (!probe.ok())
            throw Error(path, probe.problem);

        if (probe.format == ImageFormat::Jpeg) {
            cv::Mat rgb;
            int orientation = 1;
            std::string error;
            const int scaleDenom = jpegScaleDenom(jpegReducedFlag(probe, options));
            JpegHuffmanDecoder huffman;
            JpegResult result = decodeJpegRgb(data, size, scaleDenom, rgb, orientation, error,
                                              options.libjpegHuffman ? nullptr : &huffman);
            if (result == JpegResult::DecodeWithoutHuffman)
                result = decodeJpegRgb(data, size, scaleDenom, rgb, orientation, error, nullptr);
            switch (result) {
                case JpegResult::Decoded:
                    return withWarning(placed(
                        resizeToTarget(applyOrientation(rgb, orientation), options, options.into),
                        options));
                case JpegResult::Failed:
                    throw Error(path, "corrupt JPEG (" + error + ")");
                case JpegResult::NotHandled:
                case JpegResult::DecodeWithoutHuffman:  // not after a decode without it
                    break;
            }
        }

        // imdecode picks its decoder by signature, not by our probe: a WebP header that libwebp
        // refuses falls through to the DICOM reader, which trusts the lengths after a "DICM" at
        // byte 128 and allocates gigabytes for a file of 300 bytes.
        if (probe.format == ImageFormat::WebP && size >= 132 &&
            std::memcmp(data + 128, "DICM", 4) == 0)
            throw Error(path, "corrupt WebP (a DICOM signature at byte 128)");
        const cv::Mat buffer(1, int(size), CV_8U, const_cast<unsigned char*>(data));
        cv::Mat decoded;
        std::string pngError;
        if (probe.format == ImageFormat::Png) {
            if (!decodePng(data, size, decoded, pngError))
                throw Error(path, "corrupt PNG (" + pngError + ")");
        } else {
            try {
                decoded = opencvDecode(buffer, probe.format == ImageFormat::Jpeg
                                                   ? jpegReducedFlag(probe, options)
                                                   : cv::IMREAD_UNCHANGED);
            } catch (const cv::Exception& e) {
                throw Error(
                    path, std::string("corrupt ") + formatName(probe.format) + " (" + e.err + ")");
            }
        }
        if (decoded.empty()) {
            throw Error(path, std::string("corrupt ") + formatName(probe.format) +
                                  " (the decoder could not read the pixel data)");
        }
        // The pixel limit was checked on the header's size; the decoder must agree with it.
        if (probe.format != ImageFormat::Jpeg &&
            (decoded.cols != probe.width || decoded.rows != probe.height))
            throw Error(path, std::string("corrupt ") + formatName(probe.format) + " (decoded " +
                                  std::to_string(decoded.cols) + "x" +
                                  std::to_string(decoded.rows) + ", the header says " +
                                  std::to_string(probe.width) + "x" + std::to_string(probe.height) +
                                  ")");

        cv::Mat bgr;
        try {
            bgr = toBgr(decoded, options);
        } catch (const Error& e) {
            throw Error(path, e.reason());
        }
        bgr = resizeToTarget(bgr, options);
        cv::Mat rgb;
        cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
        return withWarning(placed(rgb, options));
    });
}

RgbImage toRgbImage(const cv::Mat& rgb) {
    RgbImage out;
    out.width = rgb.cols;
    out.height = rgb.rows;
    out.pixels.resize(std::size_t(rgb.cols) * rgb.rows * 3);
    for (int y = 0; y < rgb.rows; ++y)
        std::memcpy(out.pixels.data() + std::size_t(y) * rgb.cols * 3, rgb.ptr(y),
                    std::size_t(rgb.cols) * 3);
    return out;
}

RgbImage decodeRgbImage(const std::string& path, const DecodeOptions& options) {
    return toRgbImage(decodeImageFile(path, options));
}

}  // namespace convscope
