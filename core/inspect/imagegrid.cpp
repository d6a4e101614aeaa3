#include "inspect/imagegrid.h"

#include "data/opencvcodecs.h"
#include "error.h"
#include "inspect/colormap.h"
#include "inspect/inspector.h"
#include "util/atomicfile.h"

#include <opencv2/imgcodecs.hpp>  // the IMWRITE_ constants
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>

namespace convscope {

namespace {

cv::Mat wrap(const RgbImage& image) {
    return cv::Mat(image.height, image.width, CV_8UC3,
                   const_cast<std::uint8_t*>(image.pixels.data()));
}

}  // namespace

RgbImage tileGrid(const std::vector<RgbImage>& tiles, int columns, int tileSize, int gap,
                  std::array<std::uint8_t, 3> background) {
    if (tiles.empty() || columns < 1 || tileSize < 1)
        return {};
    const int rows = int((tiles.size() + std::size_t(columns) - 1) / std::size_t(columns));
    const int cols = std::min(columns, int(tiles.size()));
    RgbImage out;
    out.width = cols * tileSize + (cols + 1) * gap;
    out.height = rows * tileSize + (rows + 1) * gap;
    cv::Mat grid(out.height, out.width, CV_8UC3,
                 cv::Scalar(background[0], background[1], background[2]));
    for (std::size_t i = 0; i < tiles.size(); ++i) {
        const RgbImage& tile = tiles[i];
        if (tile.empty())
            continue;
        const double scale = double(tileSize) / std::max(tile.width, tile.height);
        const int w = std::max(1, int(std::lround(tile.width * scale)));
        const int h = std::max(1, int(std::lround(tile.height * scale)));
        cv::Mat sized;
        // Kernels and feature maps are shown as blocks when enlarged, averaged when shrunk.
        cv::resize(wrap(tile), sized, cv::Size(w, h), 0, 0,
                   scale >= 1 ? cv::INTER_NEAREST : cv::INTER_AREA);
        const int col = int(i % std::size_t(columns)), row = int(i / std::size_t(columns));
        const int x = gap + col * (tileSize + gap) + (tileSize - w) / 2;
        const int y = gap + row * (tileSize + gap) + (tileSize - h) / 2;
        sized.copyTo(grid(cv::Rect(x, y, w, h)));
    }
    out.pixels.assign(grid.data, grid.data + grid.total() * 3);
    return out;
}

RgbImage featureGrid(const FeatureMaps& maps, int tileSize, Colormap colormap, bool sharedRange,
                     int columns) {
    if (maps.channels < 1)
        return {};
    if (columns < 1)
        columns = int(std::ceil(std::sqrt(double(maps.channels))));
    const std::size_t plane = std::size_t(maps.width) * std::size_t(maps.height);
    std::vector<RgbImage> tiles;
    tiles.reserve(std::size_t(maps.channels));
    for (int c = 0; c < maps.channels; ++c) {
        const float* v = maps.values.data() + std::size_t(c) * plane;
        float lo = maps.minValue, hi = maps.maxValue;
        if (!sharedRange) {
            const auto [mn, mx] = std::minmax_element(v, v + plane);
            lo = *mn;
            hi = *mx;
        }
        tiles.push_back(colorize(v, maps.width, maps.height, lo, hi, colormap));
    }
    return tileGrid(tiles, columns, tileSize);
}

void drawBox(RgbImage& image, int x0, int y0, int x1, int y1, std::array<std::uint8_t, 3> colour,
             int thickness) {
    if (image.empty())
        return;
    cv::Mat m = wrap(image);
    cv::rectangle(m, cv::Point(x0, y0), cv::Point(x1, y1),
                  cv::Scalar(colour[0], colour[1], colour[2]), thickness);
}

RgbImage scaledToFit(const RgbImage& image, int maxSide) {
    const int longer = std::max(image.width, image.height);
    if (image.empty() || longer <= maxSide)
        return image;
    const double scale = double(maxSide) / double(longer);
    RgbImage out;
    out.width = std::max(1, int(std::lround(image.width * scale)));
    out.height = std::max(1, int(std::lround(image.height * scale)));
    out.pixels.resize(std::size_t(out.width) * std::size_t(out.height) * 3);
    cv::resize(wrap(image), wrap(out), cv::Size(out.width, out.height), 0, 0, cv::INTER_AREA);
    return out;
}

namespace {

std::vector<std::uint8_t> encode(const RgbImage& image, const char* extension,
                                 const std::vector<int>& parameters) {
    if (image.empty())
        throw Error(extension, "nothing to encode (empty image)");
    cv::Mat bgr;
    cv::cvtColor(wrap(image), bgr, cv::COLOR_RGB2BGR);
    std::vector<std::uint8_t> bytes;
    if (!opencvEncode(extension, bgr, bytes, parameters))
        throw Error(extension, "encoding failed");
    return bytes;
}

}  // namespace

std::vector<std::uint8_t> encodePng(const RgbImage& image) {
    return encode(image, ".png", {});
}

std::vector<std::uint8_t> encodeJpeg(const RgbImage& image, int quality) {
    return encode(image, ".jpg", {cv::IMWRITE_JPEG_QUALITY, std::clamp(quality, 1, 100)});
}

void writePng(const std::string& path, const RgbImage& image) {
    if (image.empty())
        throw Error(path, "nothing to write (empty image)");
    const std::vector<std::uint8_t> bytes = encodePng(image);
    replaceFileAtomically(path, [&](const std::string& temp) {
        std::ofstream out(temp, std::ios::binary);
        out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
        if (!out.flush())
            throw Error(path, "cannot write");
    });
}

}  // namespace convscope
