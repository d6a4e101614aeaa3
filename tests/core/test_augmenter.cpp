#include "augment/augmenter.h"

#include "testimages.h"
#include "util/random.h"

#include <gtest/gtest.h>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

using namespace convscope;
using namespace convscope::test;

namespace {

bool sameBytes(const cv::Mat& a, const cv::Mat& b) {
    return a.size() == b.size() && a.type() == b.type() && cv::norm(a, b, cv::NORM_INF) == 0;
}

}  // namespace

TEST(Augmenter, zeroRangesGiveTheIdentity) {
    const Augmenter augmenter{AugmentParams{}};
    Rng rng(1);
    const AugmentDraw d = augmenter.draw(rng, 32, 24);
    const Affine2x3 m = Augmenter::matrix(d, 32, 24);
    const Affine2x3 identity{1, 0, 0, 0, 1, 0};
    for (int i = 0; i < 6; ++i)
        EXPECT_NEAR(m[std::size_t(i)], identity[std::size_t(i)], 1e-12);
    const cv::Mat src = patternBgr(32, 24);
    cv::Mat dst;
    augmenter.apply(src, dst, d);
    EXPECT_TRUE(sameBytes(src, dst));
}

TEST(Augmenter, flipsAreExact) {
    const cv::Mat src = patternBgr(31, 17);
    for (const bool horizontal : {true, false}) {
        AugmentDraw d;
        d.flipHorizontal = horizontal;
        d.flipVertical = !horizontal;
        cv::Mat dst, expected;
        Augmenter(AugmentParams{}).apply(src, dst, d);
        cv::flip(src, expected, horizontal ? 1 : 0);
        EXPECT_TRUE(sameBytes(dst, expected)) << (horizontal ? "horizontal" : "vertical");
    }
}

TEST(Augmenter, aKnownPointLandsWhereTheMatrixSays) {
    const int w = 64, h = 48;
    cv::Mat src(h, w, CV_8UC3, cv::Scalar::all(0));
    const cv::Point2d source(20, 14);
    cv::rectangle(src, cv::Rect(int(source.x) - 1, int(source.y) - 1, 3, 3), cv::Scalar::all(255),
                  cv::FILLED);

    AugmentDraw d;
    d.thetaDeg = 30;
    d.shiftRows = 3;
    d.shiftCols = -5;
    d.shearDeg = 10;
    d.zoomRows = 0.9;
    d.zoomCols = 1.1;
    AugmentParams p;
    p.fillMode = FillMode::Constant;
    cv::Mat dst;
    Augmenter(p).apply(src, dst, d);

    // The matrix maps output to source; invert it to find where the dot went.
    const Affine2x3 m = Augmenter::matrix(d, w, h);
    const cv::Matx22d a(m[0], m[1], m[3], m[4]);
    const cv::Vec2d out = a.inv() * cv::Vec2d(source.x - m[2], source.y - m[5]);
    const cv::Point landed(int(std::lround(out[0])), int(std::lround(out[1])));
    ASSERT_TRUE(cv::Rect(0, 0, w, h).contains(landed));
    EXPECT_GT(dst.at<cv::Vec3b>(landed)[0], 200);
    cv::Point brightest;
    cv::Mat grey;
    cv::extractChannel(dst, grey, 0);
    cv::minMaxLoc(grey, nullptr, nullptr, nullptr, &brightest);
    EXPECT_LE(cv::norm(brightest - landed), 1.5);
}

TEST(Augmenter, rotationByNinetyDegreesIsAQuarterTurnAboutTheCentre) {
    AugmentDraw d;
    d.thetaDeg = 90;
    const Affine2x3 m = Augmenter::matrix(d, 10, 10);
    // Output (x, y) samples source (y, 9 - x) in Keras's convention.
    const double x = 2, y = 7;
    EXPECT_NEAR(m[0] * x + m[1] * y + m[2], y, 1e-9);
    EXPECT_NEAR(m[3] * x + m[4] * y + m[5], 9 - x, 1e-9);
}

TEST(Augmenter, theSameSeedGivesIdenticalBytes) {
    AugmentParams p;
    p.rotationRange = 40;
    p.widthShiftRange = 0.2;
    p.heightShiftRange = 0.2;
    p.shearRange = 20;
    p.setZoomRange(0.2);
    p.horizontalFlip = true;
    p.brightnessLow = 0.7;
    p.brightnessHigh = 1.3;
    p.channelShiftRange = 30;
    const Augmenter augmenter(p);
    const cv::Mat src = patternBgr(50, 40);
    cv::Mat a, b, c;
    augmenter.apply(src, a, 42);
    augmenter.apply(src, b, 42);
    augmenter.apply(src, c, 43);
    EXPECT_TRUE(sameBytes(a, b));
    EXPECT_FALSE(sameBytes(a, c));
}

TEST(Augmenter, constantFillUsesCvalOutsideTheSource) {
    AugmentParams p;
    p.fillMode = FillMode::Constant;
    p.cval = 77;
    AugmentDraw d;
    d.zoomRows = d.zoomCols = 2;  // Keras zoom > 1 shows a larger area: the borders are outside
    cv::Mat dst;
    Augmenter(p).apply(solidBgr(20, 20, {200, 200, 200}), dst, d);
    EXPECT_EQ(dst.at<cv::Vec3b>(0, 0), cv::Vec3b(77, 77, 77));
    EXPECT_EQ(dst.at<cv::Vec3b>(10, 10), cv::Vec3b(200, 200, 200));
}

TEST(Augmenter, nearestFillRepeatsTheEdge) {
    AugmentParams p;
    p.fillMode = FillMode::Nearest;
    AugmentDraw d;
    d.shiftCols = 5;  // output column x samples source x + 5: the right edge repeats
    cv::Mat src = solidBgr(20, 20, {0, 0, 0});
    src.col(19).setTo(cv::Scalar::all(255));
    cv::Mat dst;
    Augmenter(p).apply(src, dst, d);
    EXPECT_EQ(dst.at<cv::Vec3b>(10, 16), cv::Vec3b(255, 255, 255));
    EXPECT_EQ(dst.at<cv::Vec3b>(10, 14), cv::Vec3b(255, 255, 255));
    EXPECT_EQ(dst.at<cv::Vec3b>(10, 5), cv::Vec3b(0, 0, 0));
}

TEST(Augmenter, brightnessScalesAndChannelShiftClipsToTheImageRange) {
    AugmentDraw d;
    d.brightness = 0.5;
    cv::Mat dst;
    Augmenter(AugmentParams{}).apply(solidBgr(4, 4, {200, 100, 50}), dst, d);
    EXPECT_EQ(dst.at<cv::Vec3b>(0, 0), cv::Vec3b(25, 50, 100));  // stored BGR

    AugmentDraw shift;
    shift.channelShift = 100;
    cv::Mat src(1, 2, CV_8UC3);
    src.at<cv::Vec3b>(0, 0) = cv::Vec3b(50, 60, 70);
    src.at<cv::Vec3b>(0, 1) = cv::Vec3b(150, 140, 130);
    Augmenter(AugmentParams{}).apply(src, dst, shift);
    EXPECT_EQ(dst.at<cv::Vec3b>(0, 0), cv::Vec3b(150, 150, 150));
    EXPECT_EQ(dst.at<cv::Vec3b>(0, 1), cv::Vec3b(150, 150, 150));
}

TEST(Augmenter, drawsStayInsideTheirRanges) {
    AugmentParams p;
    p.rotationRange = 10;
    p.widthShiftRange = 0.1;
    p.heightShiftRange = 4;  // 1 or more: pixels
    p.zoomLow = 0.8;
    p.zoomHigh = 1.2;
    const Augmenter augmenter(p);
    Rng rng(5);
    for (int i = 0; i < 1000; ++i) {
        const AugmentDraw d = augmenter.draw(rng, 100, 50);
        EXPECT_LE(std::abs(d.thetaDeg), 10);
        EXPECT_LE(std::abs(d.shiftCols), 10);
        EXPECT_LE(std::abs(d.shiftRows), 4);
        EXPECT_GE(d.zoomRows, 0.8);
        EXPECT_LT(d.zoomCols, 1.2);
    }
}

TEST(Augmenter, fillModeNamesRoundTrip) {
    for (FillMode m : {FillMode::Constant, FillMode::Nearest, FillMode::Reflect, FillMode::Wrap})
        EXPECT_EQ(parseFillMode(fillModeName(m)), m);
    EXPECT_THROW(parseFillMode("mirror"), std::exception);
}
