#include "data/bilinearresize.h"

#include "error.h"
#include "util/cpufeatures.h"

#include "testimages.h"

#include <gtest/gtest.h>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

using namespace convscope;
using namespace convscope::test;

namespace {

cv::Mat resized(const cv::Mat& src, cv::Size size, ResizeLoops loops = ResizeLoops::Widest) {
    cv::Mat dst(size, CV_8UC3);
    resizeBilinear(src, dst, loops);
    return dst;
}

// Shrinks and enlargements by the factors a reduced JPEG decode leaves, widths that are and
// are not multiples of the vector loops' four and eight columns, fewer columns than that, a
// strong shrink, and columns whose taps end within 8 bytes of the row's end (read one by
// one): `loops` must give the portable loops' bytes.
void expectPortableBytes(ResizeLoops loops) {
    const std::pair<cv::Size, cv::Size> cases[] = {
        {{250, 200}, {150, 150}}, {{151, 150}, {150, 150}}, {{150, 151}, {150, 150}},
        {{200, 175}, {150, 150}}, {{299, 299}, {150, 150}}, {{100, 90}, {150, 150}},
        {{17, 5}, {16, 7}},       {{40, 3}, {33, 2}},       {{1, 1}, {20, 3}},
        {{9, 9}, {8, 8}},         {{3, 2}, {2, 5}},         {{600, 20}, {150, 10}},
        {{150, 150}, {150, 150}}};
    for (const auto& [from, to] : cases) {
        const cv::Mat src = noiseImage(from.width, from.height, from.area() + to.area());
        const cv::Mat vector = resized(src, to, loops);
        const cv::Mat portable = resized(src, to, ResizeLoops::Portable);
        EXPECT_EQ(cv::norm(vector, portable, cv::NORM_INF), 0) << from << " -> " << to;
    }
}

}  // namespace

TEST(BilinearResize, theAvx2AndPortableLoopsGiveTheSameBytes) {
    if (!cpuHasAvx2())
        GTEST_SKIP() << "this CPU has no AVX2: only the portable loops run here";
    expectPortableBytes(ResizeLoops::Widest);
}

TEST(BilinearResize, theSameSizeIsACopyAndQuarterPixelStepsBlendAsStated) {
    const cv::Mat src = noiseImage(37, 23, 3);
    EXPECT_EQ(cv::norm(resized(src, src.size()), src, cv::NORM_INF), 0);

    // Twice as wide: output columns 1 and 2 sample the source at 0.25 and 0.75.
    const cv::Mat wide = resized(src, {74, 23});
    for (int c = 0; c < 3; ++c) {
        const int a = src.at<cv::Vec3b>(5, 0)[c], b = src.at<cv::Vec3b>(5, 1)[c];
        EXPECT_EQ(wide.at<cv::Vec3b>(5, 1)[c], (a * 48 + b * 16 + 32) / 64) << c;
        EXPECT_EQ(wide.at<cv::Vec3b>(5, 2)[c], (a * 16 + b * 48 + 32) / 64) << c;
        // Before the first pixel's centre the edge is repeated.
        EXPECT_EQ(wide.at<cv::Vec3b>(5, 0)[c], a) << c;
    }
}

TEST(BilinearResize, agreesWithOpenCvsBilinearResize) {
    // OpenCV places its taps to 1/2048 pixel, this resize to 1/64: on smooth images they are
    // within a unit; on noise, where neighbours differ by up to 255, within a few.
    const std::pair<cv::Size, cv::Size> cases[] = {{{250, 200}, {150, 150}},
                                                   {{183, 240}, {150, 150}},
                                                   {{120, 100}, {150, 150}},
                                                   {{150, 150}, {150, 150}}};
    for (const auto& [from, to] : cases) {
        for (const cv::Mat& src :
             {rampsImage(from.width, from.height), noiseImage(from.width, from.height, 9)}) {
            cv::Mat opencv, diff;
            cv::resize(src, opencv, to, 0, 0, cv::INTER_LINEAR);
            cv::absdiff(resized(src, to), opencv, diff);
            const bool smooth = src.at<cv::Vec3b>(0, 1)[0] <= 2;
            EXPECT_LE(cv::norm(diff, cv::NORM_INF), smooth ? 1 : 4) << from << " -> " << to;
            EXPECT_LE(cv::mean(diff.reshape(1))[0], smooth ? 0.5 : 1.0) << from << " -> " << to;
        }
    }
}

TEST(BilinearResize, refusesOtherTypesAndEmptyImages) {
    cv::Mat dst(10, 10, CV_8UC3);
    EXPECT_THROW(resizeBilinear(cv::Mat(10, 10, CV_8UC1), dst), Error);
    EXPECT_THROW(resizeBilinear(cv::Mat(), dst), Error);
    cv::Mat grey(10, 10, CV_8UC1);
    EXPECT_THROW(resizeBilinear(noiseImage(10, 10, 1), grey), Error);
}
