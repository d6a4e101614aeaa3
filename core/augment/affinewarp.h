#pragma once

#include "augment/augmenter.h"

#include <cstdint>

namespace cv {
class Mat;
}

namespace convscope {

/// The loops warpBilinear may run: the widest this CPU has (AVX-512 with VBMI, else AVX2, else
/// portable C++), at most AVX2, or only the portable ones. All give the same bytes.
enum class WarpLoops { Widest, UpToAvx2, Portable };

/// dst(x, y) = src(m applied to (x, y)) for an 8-bit, 3-channel image, bilinear, with the fill
/// modes of AugmentParams at the edges (each of the four taps outside the image is filled on
/// its own, as OpenCV's warpAffine fills them). Source positions are float and rounded to
/// 1/64 pixel (OpenCV's warp rounds to 1/32); the blend is integer, so every CPU gives the
/// same bytes, whichever loops run (`loops` narrows them, for tests). dst is (re)allocated to
/// src's size and type and may not alias src.
/// Thread-safe; throws convscope::Error for an image that is not 8-bit RGB.
void warpBilinear(const cv::Mat& src, cv::Mat& dst, const Affine2x3& m, FillMode fill,
                  std::uint8_t cval, WarpLoops loops = WarpLoops::Widest);

}  // namespace convscope
