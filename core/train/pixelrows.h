#pragma once

#include <cstdint>

namespace convscope {

/// How a batch's floats come from an image's 8-bit RGB bytes: output channel c is source
/// channel c (or 2 - c when `swapRedBlue`, for BGR models) times scale[c] plus shift[c].
struct PixelTransform {
    float scale[3] = {1, 1, 1};
    float shift[3] = {0, 0, 0};
    bool swapRedBlue = false;
};

/// One row of `width` RGB pixels into three float planes (the NCHW layout). With `allowSimd`
/// an AVX2 loop is used where the CPU has it; it gives the same floats as the portable one
/// (a multiply, then an add, each rounded). Thread-safe; no allocation.
void rowToPlanes(const std::uint8_t* rgb, int width, const PixelTransform& t, float* red,
                 float* green, float* blue, bool allowSimd = true);

/// The same row into interleaved floats, three per pixel (the NHWC, channels-last layout).
void rowToInterleaved(const std::uint8_t* rgb, int width, const PixelTransform& t, float* out,
                      bool allowSimd = true);

}  // namespace convscope
