#pragma once

#include "data/rgbimage.h"

#include <array>
#include <string>
#include <cstdint>
#include <vector>

namespace convscope {

struct FeatureMaps;
enum class Colormap;

/// Lays tiles out in rows of `columns`, each scaled (nearest neighbour, aspect kept) to fit
/// a tileSize x tileSize cell, with `gap` pixels of `background` between cells.
RgbImage tileGrid(const std::vector<RgbImage>& tiles, int columns, int tileSize, int gap = 2,
                  std::array<std::uint8_t, 3> background = {32, 32, 32});

/// Every channel of a layer's activations as a coloured tile in one grid. sharedRange: one
/// min..max for all channels (compare their strengths), else each channel's own.
RgbImage featureGrid(const FeatureMaps& maps, int tileSize, Colormap colormap,
                     bool sharedRange = false, int columns = 0);

/// Draws a rectangle outline with inclusive corners, clipped to the image.
void drawBox(RgbImage& image, int x0, int y0, int x1, int y1,
             std::array<std::uint8_t, 3> colour = {255, 255, 255}, int thickness = 2);

/// The image scaled down (area averaging, aspect kept) so that its longer side is at most
/// `maxSide`; a smaller image is returned as it is.
RgbImage scaledToFit(const RgbImage& image, int maxSide);

/// The image as PNG or JPEG (quality 1..100) bytes. Throws convscope::Error for an empty image.
std::vector<std::uint8_t> encodePng(const RgbImage& image);
std::vector<std::uint8_t> encodeJpeg(const RgbImage& image, int quality = 85);

/// Writes a PNG. Throws convscope::Error naming the file.
void writePng(const std::string& path, const RgbImage& image);

}  // namespace convscope
