#include "augment/augmenter.h"

#include "augment/affinewarp.h"

#include "error.h"
#include "util/enumnames.h"
#include "util/random.h"

#include <opencv2/core.hpp>

#include <algorithm>
#include <cmath>

namespace convscope {

namespace {

using Mat3 = std::array<std::array<double, 3>, 3>;

Mat3 multiply(const Mat3& a, const Mat3& b) {
    Mat3 r{};
    for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j)
            for (int k = 0; k < 3; ++k)
                r[i][j] += a[i][k] * b[k][j];
    return r;
}

constexpr double kDegToRad = 3.14159265358979323846 / 180.0;

double symmetric(Rng& rng, double range) {
    return range > 0 ? rng.uniform(-range, range) : 0.0;
}

const EnumName<FillMode> kFillModes[] = {{FillMode::Constant, "constant"},
                                         {FillMode::Nearest, "nearest"},
                                         {FillMode::Reflect, "reflect"},
                                         {FillMode::Wrap, "wrap"}};

}  // namespace

const char* fillModeName(FillMode mode) {
    return enumName(mode, kFillModes);
}

FillMode parseFillMode(const std::string& name) {
    return parseEnum(name, kFillModes, "fill_mode");
}

bool AugmentParams::isIdentity() const {
    return rotationRange == 0 && widthShiftRange == 0 && heightShiftRange == 0 && shearRange == 0 &&
           zoomLow == 1 && zoomHigh == 1 && !horizontalFlip && !verticalFlip &&
           brightnessLow == 1 && brightnessHigh == 1 && channelShiftRange == 0;
}

AugmentDraw Augmenter::draw(Rng& rng, int width, int height) const {
    const AugmentParams& p = m_params;
    AugmentDraw d;
    d.thetaDeg = symmetric(rng, p.rotationRange);
    d.shiftRows = symmetric(rng, p.heightShiftRange);
    if (p.heightShiftRange < 1)
        d.shiftRows *= height;
    d.shiftCols = symmetric(rng, p.widthShiftRange);
    if (p.widthShiftRange < 1)
        d.shiftCols *= width;
    d.shearDeg = symmetric(rng, p.shearRange);
    if (p.zoomLow != 1 || p.zoomHigh != 1) {
        d.zoomRows = rng.uniform(p.zoomLow, p.zoomHigh);
        d.zoomCols = rng.uniform(p.zoomLow, p.zoomHigh);
    }
    d.flipHorizontal = p.horizontalFlip && rng.coin();
    d.flipVertical = p.verticalFlip && rng.coin();
    d.channelShift = symmetric(rng, p.channelShiftRange);
    if (p.brightnessLow != 1 || p.brightnessHigh != 1)
        d.brightness = rng.uniform(p.brightnessLow, p.brightnessHigh);
    return d;
}

Affine2x3 Augmenter::matrix(const AugmentDraw& d, int width, int height) {
    // Keras builds the map in (row, col) coordinates: rotation * shift * shear * zoom, about
    // the centre; flips are applied after the warp, so they compose on the output side.
    const double theta = d.thetaDeg * kDegToRad;
    const double shear = d.shearDeg * kDegToRad;
    const Mat3 rotation{
        {{std::cos(theta), -std::sin(theta), 0}, {std::sin(theta), std::cos(theta), 0}, {0, 0, 1}}};
    const Mat3 shift{{{1, 0, d.shiftRows}, {0, 1, d.shiftCols}, {0, 0, 1}}};
    const Mat3 shearM{{{1, -std::sin(shear), 0}, {0, std::cos(shear), 0}, {0, 0, 1}}};
    const Mat3 zoom{{{d.zoomRows, 0, 0}, {0, d.zoomCols, 0}, {0, 0, 1}}};
    const double oRow = height / 2.0 - 0.5;
    const double oCol = width / 2.0 - 0.5;
    const Mat3 toCentre{{{1, 0, oRow}, {0, 1, oCol}, {0, 0, 1}}};
    const Mat3 fromCentre{{{1, 0, -oRow}, {0, 1, -oCol}, {0, 0, 1}}};
    const Mat3 flip{{{d.flipVertical ? -1.0 : 1.0, 0, d.flipVertical ? height - 1.0 : 0.0},
                     {0, d.flipHorizontal ? -1.0 : 1.0, d.flipHorizontal ? width - 1.0 : 0.0},
                     {0, 0, 1}}};
    const Mat3 m = multiply(
        multiply(multiply(toCentre, multiply(multiply(multiply(rotation, shift), shearM), zoom)),
                 fromCentre),
        flip);
    // (row, col) -> (x, y): swap the two axes on both sides.
    return {m[1][1], m[1][0], m[1][2], m[0][1], m[0][0], m[0][2]};
}

void Augmenter::apply(const cv::Mat& src, cv::Mat& dst, const AugmentDraw& d) const {
    if (src.type() != CV_8UC3)
        throw Error("augment", "expects an 8-bit RGB image");
    const Affine2x3 a = matrix(d, src.cols, src.rows);
    const bool identity =
        a[0] == 1 && a[1] == 0 && a[2] == 0 && a[3] == 0 && a[4] == 1 && a[5] == 0;
    if (identity)
        src.copyTo(dst);
    else
        warpBilinear(src, dst, a, m_params.fillMode,
                     cv::saturate_cast<std::uint8_t>(m_params.cval));
    if (d.channelShift == 0 && d.brightness == 1)
        return;

    // Keras clips the channel shift to the image's own range, then scales brightness.
    double lo = 0, hi = 255;
    if (d.channelShift != 0)
        cv::minMaxLoc(dst.reshape(1), &lo, &hi);
    cv::Mat lut(1, 256, CV_8U);
    for (int v = 0; v < 256; ++v) {
        const double shifted = std::clamp(v + d.channelShift, lo, hi);
        lut.at<std::uint8_t>(v) = cv::saturate_cast<std::uint8_t>(shifted * d.brightness);
    }
    cv::LUT(dst, lut, dst);
}

void Augmenter::apply(const cv::Mat& src, cv::Mat& dst, std::uint64_t seed) const {
    Rng rng(seed);
    apply(src, dst, draw(rng, src.cols, src.rows));
}

}  // namespace convscope
