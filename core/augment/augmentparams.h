#pragma once

#include <string>

namespace convscope {

/// How pixels outside the source are filled (Keras's fill_mode).
enum class FillMode { Constant, Nearest, Reflect, Wrap };

const char* fillModeName(FillMode mode);
/// Parses "constant", "nearest", "reflect" or "wrap"; throws convscope::Error otherwise.
FillMode parseFillMode(const std::string& name);

/// The parameters of Keras's ImageDataGenerator, under their Keras meanings.
/// Ranges are symmetric: a value r draws from [-r, r]. Shifts below 1 are fractions of the
/// image size, 1 or more are pixels. Angles are in degrees.
struct AugmentParams {
    double rotationRange = 0;
    double widthShiftRange = 0;
    double heightShiftRange = 0;
    double shearRange = 0;  ///< degrees, counter-clockwise
    double zoomLow = 1;     ///< zoom factors are drawn per axis from [zoomLow, zoomHigh];
    double zoomHigh = 1;    ///< Keras's zoom_range=z means [1 - z, 1 + z]
    bool horizontalFlip = false;
    bool verticalFlip = false;
    double brightnessLow = 1;  ///< brightness factor drawn from [low, high]; 1, 1 = off
    double brightnessHigh = 1;
    double channelShiftRange = 0;  ///< in 0..255 pixel units
    FillMode fillMode = FillMode::Nearest;
    double cval = 0;

    void setZoomRange(double z) {
        zoomLow = 1 - z;
        zoomHigh = 1 + z;
    }
    bool isIdentity() const;
};

}  // namespace convscope
