// OpenCV's image codecs, opened on first use rather than linked: the library is not loaded
// before the first call and is after it; a BMP goes both ways through it, also as ConvScope's
// decoder takes it; what it writes as PNG reads back the same through ConvScope's own PNG
// decoder; a path it cannot write gives false. This binary links no imgcodecs, as convscope.
#include "data/imagedecoder.h"
#include "data/opencvcodecs.h"

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>  // the IMREAD_ constants
#include <opencv2/imgproc.hpp>

#include <dlfcn.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

using namespace convscope;
namespace fs = std::filesystem;

namespace {

bool imgcodecsLoaded() {
    void* handle = ::dlopen(CONVSCOPE_OPENCV_IMGCODECS, RTLD_NOW | RTLD_NOLOAD);
    if (handle)
        ::dlclose(handle);  // only the count RTLD_NOLOAD added
    return handle != nullptr;
}

cv::Mat someBgr() {
    cv::Mat bgr(23, 37, CV_8UC3);
    cv::RNG rng(7);
    rng.fill(bgr, cv::RNG::UNIFORM, 0, 256);
    return bgr;
}

}  // namespace

TEST(OpenCvCodecs, areOpenedOnFirstUseAndEncodeAndDecode) {
    ASSERT_FALSE(imgcodecsLoaded()) << "linked after all: it loads with the program";
    const cv::Mat bgr = someBgr();
    std::vector<unsigned char> bmp;
    ASSERT_TRUE(opencvEncode(".bmp", bgr, bmp));
    EXPECT_TRUE(imgcodecsLoaded());
    ASSERT_GT(bmp.size(), 54u);
    EXPECT_EQ(bmp[0], 'B');
    EXPECT_EQ(bmp[1], 'M');

    const cv::Mat back =
        opencvDecode(cv::Mat(1, int(bmp.size()), CV_8U, bmp.data()), cv::IMREAD_UNCHANGED);
    ASSERT_EQ(back.size(), bgr.size());
    EXPECT_EQ(cv::norm(back, bgr, cv::NORM_INF), 0);

    // A BMP is none of the formats ConvScope decodes itself: it goes through OpenCV, to RGB.
    const cv::Mat rgb = decodeImageBytes(bmp.data(), bmp.size(), {}, "colours.bmp");
    cv::Mat expected;
    cv::cvtColor(bgr, expected, cv::COLOR_BGR2RGB);
    ASSERT_EQ(rgb.size(), expected.size());
    EXPECT_EQ(cv::norm(rgb, expected, cv::NORM_INF), 0);

    // Bytes that are no image: an empty matrix, as cv::imdecode gives.
    std::vector<unsigned char> junk(64, 0x5a);
    EXPECT_TRUE(
        opencvDecode(cv::Mat(1, int(junk.size()), CV_8U, junk.data()), cv::IMREAD_COLOR).empty());
}

TEST(OpenCvCodecs, writeEncodesForTheExtension) {
    const fs::path dir =
        fs::temp_directory_path() / ("convscope-codecs-" + std::to_string(getpid()));
    fs::create_directories(dir);
    const cv::Mat bgr = someBgr();
    const fs::path png = dir / "written.png";
    ASSERT_TRUE(opencvWrite(png.string(), bgr));
    // Read back by ConvScope's own PNG decoder, not OpenCV's.
    const cv::Mat rgb = decodeImageFile(png.string());
    cv::Mat expected;
    cv::cvtColor(bgr, expected, cv::COLOR_BGR2RGB);
    ASSERT_EQ(rgb.size(), expected.size());
    EXPECT_EQ(cv::norm(rgb, expected, cv::NORM_INF), 0);

    EXPECT_FALSE(opencvWrite((dir / "no-extension").string(), bgr));
    EXPECT_FALSE(fs::exists(dir / "no-extension"));
    EXPECT_FALSE(opencvWrite((dir / "missing-folder" / "x.png").string(), bgr));
    fs::remove_all(dir);
}
