#pragma once

#include "augment/augmentparams.h"

#include <array>
#include <cstdint>

namespace cv {
class Mat;
}

namespace convscope {

class Rng;

/// One sample's random draw: the values Keras's get_random_transform returns.
struct AugmentDraw {
    double thetaDeg = 0;
    double shiftRows = 0;  ///< pixels (Keras tx)
    double shiftCols = 0;  ///< pixels (Keras ty)
    double shearDeg = 0;
    double zoomRows = 1;  ///< Keras zx
    double zoomCols = 1;  ///< Keras zy
    bool flipHorizontal = false;
    bool flipVertical = false;
    double channelShift = 0;
    double brightness = 1;
};

/// 2x3 matrix mapping output pixel (x, y) to source pixel (x, y), row-major.
using Affine2x3 = std::array<double, 6>;

/// Applies AugmentParams to 8-bit RGB images: one affine warp (rotation, shift, shear, zoom
/// and flips composed into one matrix about the image centre, as Keras composes them), then
/// one lookup table for channel shift and brightness. Stateless apart from the parameters;
/// safe to share between threads.
class Augmenter {
public:
    explicit Augmenter(const AugmentParams& params) : m_params(params) {}

    const AugmentParams& params() const { return m_params; }

    AugmentDraw draw(Rng& rng, int width, int height) const;

    /// The composed inverse map for an image of this size.
    static Affine2x3 matrix(const AugmentDraw& d, int width, int height);

    /// Writes the augmented `src` (CV_8UC3) into `dst` (same size). dst may not alias src.
    void apply(const cv::Mat& src, cv::Mat& dst, const AugmentDraw& d) const;

    /// draw + apply with a generator seeded from `seed`: the same seed gives the same bytes.
    void apply(const cv::Mat& src, cv::Mat& dst, std::uint64_t seed) const;

private:
    AugmentParams m_params;
};

}  // namespace convscope
