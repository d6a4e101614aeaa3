#include "data/imagedecoder.h"

#include "error.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cerrno>
#include <cmath>
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

}  // namespace

cv::Mat decodeImageFile(const std::string& path, const DecodeOptions& options) {
    const std::vector<unsigned char> bytes = readWholeFile(path);
    const ImageProbe probe = probeImageBytes(bytes.data(), bytes.size(), options.maxPixels);
    if (!probe.ok())
        throw Error(path, probe.problem);

    const cv::Mat buffer(1, int(bytes.size()), CV_8U, const_cast<unsigned char*>(bytes.data()));
    cv::Mat decoded;
    try {
        if (probe.format == ImageFormat::Jpeg)
            decoded = cv::imdecode(buffer, jpegReducedFlag(probe, options));
        else
            decoded = cv::imdecode(buffer, cv::IMREAD_UNCHANGED);
    } catch (const cv::Exception& e) {
        throw Error(path, std::string("corrupt ") + formatName(probe.format) + " (" + e.err + ")");
    }
    if (decoded.empty()) {
        throw Error(path, std::string("corrupt ") + formatName(probe.format) +
                              " (the decoder could not read the pixel data)");
    }

    cv::Mat bgr;
    try {
        bgr = toBgr(decoded, options);
    } catch (const Error& e) {
        throw Error(path, e.reason());
    }
    if (options.width > 0 && options.height > 0) {
        cv::Size size(options.width, options.height);
        if (options.keepAspect) {
            const double scale =
                std::min(double(options.width) / bgr.cols, double(options.height) / bgr.rows);
            size = cv::Size(std::max(1, int(std::lround(bgr.cols * scale))),
                            std::max(1, int(std::lround(bgr.rows * scale))));
        }
        if (size != bgr.size()) {
            // Area averaging avoids aliasing when shrinking a lot; below 2x (the usual case after
            // a reduced-scale JPEG decode) bilinear looks the same and costs a fraction: OpenCV's
            // area resize at a non-integer ratio took as long as the JPEG decode itself.
            const bool shrinkingALot = bgr.cols >= 2 * size.width && bgr.rows >= 2 * size.height;
            cv::Mat resized;
            cv::resize(bgr, resized, size, 0, 0, shrinkingALot ? cv::INTER_AREA : cv::INTER_LINEAR);
            bgr = resized;
        }
    }
    cv::Mat rgb;
    cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
    return rgb;
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
