#pragma once

#include <cstdint>
#include <vector>

namespace convscope {

/// An 8-bit RGB image, rows top to bottom, pixels interleaved R, G, B, no padding.
/// The plain type that crosses from core to front ends (no OpenCV in public headers).
struct RgbImage {
    int width = 0;
    int height = 0;
    std::vector<std::uint8_t> pixels;

    bool empty() const { return pixels.empty(); }
};

}  // namespace convscope
