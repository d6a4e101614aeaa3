#include "augment/affinewarp.h"

#include "util/cpufeatures.h"
#include "util/random.h"

#include "testimages.h"

#include <gtest/gtest.h>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

using namespace convscope;
using namespace convscope::test;

namespace {

const FillMode kModes[] = {FillMode::Constant, FillMode::Nearest, FillMode::Reflect,
                           FillMode::Wrap};

Affine2x3 randomMap(Rng& rng, int width, int height) {
    AugmentParams p;
    p.rotationRange = 180;
    p.widthShiftRange = p.heightShiftRange = 0.6;
    p.shearRange = 30;
    p.setZoomRange(0.6);
    p.horizontalFlip = p.verticalFlip = true;
    const Augmenter augmenter(p);
    return Augmenter::matrix(augmenter.draw(rng, width, height), width, height);
}

int cvBorder(FillMode mode) {
    switch (mode) {
        case FillMode::Constant:
            return cv::BORDER_CONSTANT;
        case FillMode::Nearest:
            return cv::BORDER_REPLICATE;
        case FillMode::Reflect:
            return cv::BORDER_REFLECT;
        case FillMode::Wrap:
            return cv::BORDER_WRAP;
    }
    return cv::BORDER_REPLICATE;
}

// Warps random maps over images whose widths are and are not multiples of the eight- and
// sixteen-pixel loops, tiny ones included, with maps that reach far outside the image so that
// every fill and edge case is exercised, by `loops` and by the portable loops: the bytes must
// be equal. Returns how many warps it compared.
int compareWithPortable(WarpLoops loops) {
    Rng rng(11);
    int compared = 0;
    for (const cv::Size size :
         {cv::Size(150, 150), cv::Size(37, 21), cv::Size(9, 13), cv::Size(16, 5), cv::Size(17, 4),
          cv::Size(3, 2), cv::Size(1, 1), cv::Size(8, 1)}) {
        const cv::Mat src = noiseImage(size.width, size.height, size.area());
        for (FillMode mode : kModes) {
            for (int draw = 0; draw < 6; ++draw) {
                const Affine2x3 m = randomMap(rng, size.width, size.height);
                cv::Mat vector, portable;
                warpBilinear(src, vector, m, mode, 77, loops);
                warpBilinear(src, portable, m, mode, 77, WarpLoops::Portable);
                EXPECT_EQ(vector.size(), src.size());
                if (vector.size() == src.size()) {
                    EXPECT_EQ(cv::norm(vector, portable, cv::NORM_INF), 0)
                        << size << " mode " << int(mode) << " draw " << draw;
                }
                ++compared;
            }
        }
    }
    return compared;
}

}  // namespace

TEST(AffineWarp, theAvx2AndPortableLoopsGiveTheSameBytes) {
    if (!cpuHasAvx2())
        GTEST_SKIP() << "this CPU has no AVX2: only the portable loops run here";
    EXPECT_EQ(compareWithPortable(WarpLoops::UpToAvx2), 8 * 4 * 6);
}

TEST(AffineWarp, theAvx512AndPortableLoopsGiveTheSameBytes) {
    if (!cpuHasAvx512Vbmi())
        GTEST_SKIP() << "this CPU has no AVX-512 VBMI: the sixteen-pixel loop does not run here";
    EXPECT_EQ(compareWithPortable(WarpLoops::Widest), 8 * 4 * 6);
}

TEST(AffineWarp, wholePixelMovesAreExactAndAHalfPixelAverages) {
    const cv::Mat src = noiseImage(16, 12, 5);
    cv::Mat dst;
    warpBilinear(src, dst, {1, 0, 0, 0, 1, 0}, FillMode::Nearest, 0);
    EXPECT_EQ(cv::norm(dst, src, cv::NORM_INF), 0);

    warpBilinear(src, dst, {1, 0, 3, 0, 1, -2}, FillMode::Constant, 9);
    EXPECT_EQ(dst.at<cv::Vec3b>(5, 4), src.at<cv::Vec3b>(3, 7));
    EXPECT_EQ(dst.at<cv::Vec3b>(0, 0), cv::Vec3b(9, 9, 9));   // source row -2
    EXPECT_EQ(dst.at<cv::Vec3b>(5, 14), cv::Vec3b(9, 9, 9));  // source column 17

    // Nearest repeats the edges: a shift by 3 columns repeats the last column 3 times.
    warpBilinear(src, dst, {1, 0, 3, 0, 1, 0}, FillMode::Nearest, 0);
    EXPECT_EQ(dst.at<cv::Vec3b>(4, 15), src.at<cv::Vec3b>(4, 15));
    EXPECT_EQ(dst.at<cv::Vec3b>(4, 13), src.at<cv::Vec3b>(4, 15));
    EXPECT_EQ(dst.at<cv::Vec3b>(4, 12), src.at<cv::Vec3b>(4, 15));

    warpBilinear(src, dst, {1, 0, 0.5, 0, 1, 0}, FillMode::Nearest, 0);
    for (int c = 0; c < 3; ++c) {
        const int a = src.at<cv::Vec3b>(4, 6)[c], b = src.at<cv::Vec3b>(4, 7)[c];
        EXPECT_NEAR(dst.at<cv::Vec3b>(4, 6)[c], (a + b) / 2.0, 0.5);
    }
}

TEST(AffineWarp, agreesWithOpenCvsBilinearWarpInEveryFillMode) {
    // OpenCV rounds source positions to 1/32 pixel, this warp to 1/64: on ramps they agree
    // within a unit or two, and by more only where a fill jumps (the fill value beside the
    // image, wrap's seam from 255 to 0).
    Rng rng(4);
    const cv::Mat src = rampsImage(150, 150);
    for (FillMode mode : kModes) {
        for (int draw = 0; draw < 4; ++draw) {
            const Affine2x3 m = randomMap(rng, 150, 150);
            cv::Mat ours, opencv, diff;
            warpBilinear(src, ours, m, mode, 40);
            cv::warpAffine(src, opencv, cv::Matx23d(m[0], m[1], m[2], m[3], m[4], m[5]), src.size(),
                           cv::INTER_LINEAR | cv::WARP_INVERSE_MAP, cvBorder(mode),
                           cv::Scalar::all(40));
            cv::absdiff(ours, opencv, diff);
            const double mean = cv::mean(diff.reshape(1))[0];
            EXPECT_LE(mean, 0.6) << "mode " << int(mode) << " draw " << draw;
            if (mode == FillMode::Nearest || mode == FillMode::Reflect) {
                EXPECT_LE(cv::norm(diff, cv::NORM_INF), 2) << "mode " << int(mode);
            }
        }
    }
}
