#pragma once

namespace cv {
class Mat;
}

namespace convscope {

/// The loops resizeBilinear may run: the widest this CPU has (AVX2), or only the portable ones
/// (for tests). Both give the same bytes.
enum class ResizeLoops { Widest, Portable };

/// Resizes an 8-bit, 3-channel image (either channel order) to dst's size, bilinearly. Pixel
/// centres line up as in OpenCV's INTER_LINEAR: output x samples the source at
/// (x + 0.5) * srcWidth / dstWidth - 0.5, and positions beyond the first or last pixel take
/// that pixel. Positions are rounded to 1/64 pixel and blended in integers, columns first,
/// so every CPU gives the same bytes. cv::resize places its taps to 1/2048 pixel: on smooth
/// images the two agree within one unit, on noise within a few. With AVX2 it takes about half
/// cv::resize's time (250x200 to 150x150: 24-28 us against 45-50 us). Meant for
/// scale factors near one (decoding to the training size): below half size it aliases, as
/// every two-tap filter does. dst must already be a CV_8UC3 matrix of the wanted size and
/// may not share memory with src. Thread-safe; throws convscope::Error for other types.
void resizeBilinear(const cv::Mat& src, cv::Mat& dst, ResizeLoops loops = ResizeLoops::Widest);

}  // namespace convscope
