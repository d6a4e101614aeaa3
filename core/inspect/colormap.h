#pragma once

#include "data/rgbimage.h"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace convscope {

/// Viridis (perceptually uniform, the default), Jet (the CAM paper's look) and Grey.
enum class Colormap { Viridis, Jet, Grey };

const char* colormapName(Colormap c);  ///< "viridis", "jet", "grey"
/// Throws convscope::Error for an unknown name.
Colormap parseColormap(const std::string& name);

/// The colour for t in 0..1 (clamped).
std::array<std::uint8_t, 3> colormapColor(Colormap colormap, float t);

/// A width x height float field (row-major) as colours, lo..hi mapped to 0..1.
/// lo == hi gives the colour of 0.
RgbImage colorize(const float* values, int width, int height, float lo, float hi,
                  Colormap colormap);

/// Blends `heat` (0..1, the image's size, row-major) in colour over the image:
/// out = (1 - opacity) * image + opacity * colour(heat).
RgbImage overlayHeat(const RgbImage& image, const std::vector<float>& heat, float opacity,
                     Colormap colormap = Colormap::Jet);

}  // namespace convscope
