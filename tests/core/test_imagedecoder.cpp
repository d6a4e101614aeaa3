#include "data/imagedecoder.h"

#include "error.h"
#include "testimages.h"

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

using namespace convscope;
using namespace convscope::test;

namespace {

cv::Vec3b pixel(const cv::Mat& rgb, int x, int y) {
    return rgb.at<cv::Vec3b>(y, x);
}

void expectNear(cv::Vec3b got, int r, int g, int b, int tolerance) {
    EXPECT_NEAR(got[0], r, tolerance);
    EXPECT_NEAR(got[1], g, tolerance);
    EXPECT_NEAR(got[2], b, tolerance);
}

}  // namespace

class DecoderFormats : public ::testing::TestWithParam<std::string> {};

TEST_P(DecoderFormats, everyFormatDecodesToRgbInTheRightColour) {
    TempDir dir;
    const std::string path = dir.file("red." + GetParam());
    writeImage(path, solidBgr(40, 30, {200, 30, 10}));
    const cv::Mat rgb = decodeImageFile(path);
    ASSERT_EQ(rgb.type(), CV_8UC3);
    EXPECT_EQ(rgb.cols, 40);
    EXPECT_EQ(rgb.rows, 30);
    expectNear(pixel(rgb, 20, 15), 200, 30, 10, 8);  // lossy formats are close, not exact
}

INSTANTIATE_TEST_SUITE_P(Formats, DecoderFormats,
                         ::testing::Values("jpg", "png", "bmp", "tif", "webp"));

TEST(ImageDecoder, greyscaleBecomesThreeEqualChannels) {
    TempDir dir;
    const std::string path = dir.file("grey.png");
    writeImage(path, cv::Mat(10, 10, CV_8U, cv::Scalar(77)));
    const cv::Mat rgb = decodeImageFile(path);
    ASSERT_EQ(rgb.type(), CV_8UC3);
    expectNear(pixel(rgb, 3, 3), 77, 77, 77, 0);
}

TEST(ImageDecoder, alphaIsCompositedOnTheBackground) {
    TempDir dir;
    const std::string path = dir.file("alpha.png");
    cv::Mat bgra(4, 4, CV_8UC4, cv::Scalar(0, 0, 255, 255));  // opaque red
    bgra.at<cv::Vec4b>(0, 0) = cv::Vec4b(0, 0, 255, 0);       // fully transparent
    bgra.at<cv::Vec4b>(1, 1) = cv::Vec4b(0, 0, 0, 128);       // half-transparent black
    writeImage(path, bgra);
    DecodeOptions options;
    options.background = {255, 255, 255};
    const cv::Mat rgb = decodeImageFile(path, options);
    expectNear(pixel(rgb, 0, 0), 255, 255, 255, 0);
    expectNear(pixel(rgb, 2, 2), 255, 0, 0, 0);
    expectNear(pixel(rgb, 1, 1), 127, 127, 127, 1);
}

TEST(ImageDecoder, sixteenBitIsScaledToEightBit) {
    TempDir dir;
    const std::string path = dir.file("deep.png");
    writeImage(path, cv::Mat(5, 5, CV_16UC3, cv::Scalar(65535, 32896, 0)));  // BGR
    const cv::Mat rgb = decodeImageFile(path);
    ASSERT_EQ(rgb.type(), CV_8UC3);
    expectNear(pixel(rgb, 2, 2), 0, 128, 255, 0);
}

TEST(ImageDecoder, palettePngUsesItsPalette) {
    TempDir dir;
    const std::string path = dir.file("palette.png");
    writePalettePng(path, 2, 1, {cv::Vec3b(10, 20, 30), cv::Vec3b(250, 128, 0)}, {0, 1});
    const cv::Mat rgb = decodeImageFile(path);
    expectNear(pixel(rgb, 0, 0), 10, 20, 30, 0);
    expectNear(pixel(rgb, 1, 0), 250, 128, 0, 0);
}

TEST(ImageDecoder, cmykJpegIsConvertedToRgb) {
    TempDir dir;
    const std::string path = dir.file("cmyk.jpg");
    const std::uint8_t cyanInk[4] = {255, 0, 0, 0};
    writeCmykJpeg(path, 16, 16, cyanInk);
    const cv::Mat rgb = decodeImageFile(path);
    ASSERT_EQ(rgb.type(), CV_8UC3);
    expectNear(pixel(rgb, 8, 8), 0, 255, 255, 12);
}

TEST(ImageDecoder, exifOrientationIsApplied) {
    TempDir dir;
    const std::string path = dir.file("rotated.jpg");
    // 40 wide, 20 high, left half red, right half blue.
    cv::Mat img = solidBgr(40, 20, {255, 0, 0});
    img(cv::Rect(20, 0, 20, 20)).setTo(cv::Scalar(255, 0, 0));
    writeImage(path, img);
    addExifOrientation(path, 6);  // display rotated 90 degrees clockwise
    const cv::Mat rgb = decodeImageFile(path);
    ASSERT_EQ(rgb.cols, 20);
    ASSERT_EQ(rgb.rows, 40);
    expectNear(pixel(rgb, 10, 5), 255, 0, 0, 20);   // left becomes top
    expectNear(pixel(rgb, 10, 35), 0, 0, 255, 20);  // right becomes bottom
}

TEST(ImageDecoder, resizesToTheRequestedSizeWithoutCropping) {
    TempDir dir;
    const std::string path = dir.file("wide.png");
    cv::Mat img = solidBgr(200, 100, {0, 255, 0});
    img(cv::Rect(100, 0, 100, 100)).setTo(cv::Scalar(255, 0, 0));  // right half blue
    writeImage(path, img);
    DecodeOptions options;
    options.width = options.height = 50;
    const cv::Mat rgb = decodeImageFile(path, options);
    EXPECT_EQ(rgb.size(), cv::Size(50, 50));
    expectNear(pixel(rgb, 5, 25), 0, 255, 0, 0);
    expectNear(pixel(rgb, 45, 25), 0, 0, 255, 0);
}

TEST(ImageDecoder, largeJpegDecodedAtReducedScaleStillHasTheTargetSize) {
    TempDir dir;
    const std::string path = dir.file("big.jpg");
    writeImage(path, solidBgr(1600, 1200, {90, 160, 220}));
    DecodeOptions options;
    options.width = options.height = 150;
    const cv::Mat rgb = decodeImageFile(path, options);
    EXPECT_EQ(rgb.size(), cv::Size(150, 150));
    expectNear(pixel(rgb, 75, 75), 90, 160, 220, 6);
}

TEST(ImageDecoder, decodesIntoTheCallersMemoryWhenGivenSome) {
    // A JPEG that is resized (straight into the memory), one already at the size (copied
    // there), and a PNG (another path): the same pixels as without the memory, in it.
    TempDir dir;
    const cv::Mat noisy = noiseImage(120, 90, 7);
    const std::string resized = dir.file("resized.jpg"), exact = dir.file("exact.jpg"),
                      png = dir.file("other.png");
    writeImage(resized, noisy);
    writeImage(exact, noisy(cv::Rect(0, 0, 60, 40)));
    writeImage(png, noisy);
    for (const std::string& path : {resized, exact, png}) {
        DecodeOptions options;
        options.width = 60;
        options.height = 40;
        const cv::Mat expected = decodeImageFile(path, options);
        std::vector<std::uint8_t> memory(60 * 40 * 3);
        options.into = memory.data();
        const cv::Mat got = decodeImageFile(path, options);
        EXPECT_EQ(got.data, memory.data()) << path;
        EXPECT_EQ(cv::norm(got, expected, cv::NORM_INF), 0) << path;
    }
}

TEST(ImageDecoder, truncatedJpegIsReportedNotDecoded) {
    TempDir dir;
    const std::string path = dir.file("cut.jpg");
    writeImage(path, patternBgr(64, 64));
    auto bytes = readBytes(path);
    bytes.resize(bytes.size() / 2);
    writeBytes(path, bytes);
    try {
        decodeImageFile(path);
        FAIL() << "a truncated JPEG decoded";
    } catch (const Error& e) {
        EXPECT_EQ(e.subject(), path);
        EXPECT_EQ(e.reason(), "truncated JPEG (no end marker)");
    }
}

TEST(ImageDecoder, corruptPixelDataIsAnErrorNotACrash) {
    TempDir dir;
    const std::string path = dir.file("garbage.png");
    writeImage(path, patternBgr(32, 32));
    auto bytes = readBytes(path);
    for (std::size_t i = 40; i + 20 < bytes.size(); ++i)
        bytes[i] = std::uint8_t(i * 31);
    writeBytes(path, bytes);
    EXPECT_THROW(decodeImageFile(path), Error);
}

TEST(ImageDecoder, decompressionBombIsRefusedFromItsHeader) {
    TempDir dir;
    const std::string path = dir.file("bomb.png");
    writePngHeaderOnly(path, 100000, 100000);
    try {
        decodeImageFile(path);
        FAIL() << "a 10-gigapixel PNG was accepted";
    } catch (const Error& e) {
        EXPECT_NE(e.reason().find("image too large (100000x100000"), std::string::npos)
            << e.reason();
    }
}

TEST(ImageDecoder, missingFileNamesTheFile) {
    try {
        decodeImageFile("/nonexistent/cat.jpg");
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.subject(), "/nonexistent/cat.jpg");
        EXPECT_NE(std::string(e.what()).find("/nonexistent/cat.jpg: cannot open"),
                  std::string::npos);
    }
}

TEST(ImageProbe, readsSizesFromHeadersOfEveryFormat) {
    TempDir dir;
    for (const char* ext : {"jpg", "png", "bmp", "tif", "webp"}) {
        const std::string path = dir.file(std::string("size.") + ext);
        writeImage(path, patternBgr(123, 45));
        const ImageProbe p = probeImageFile(path);
        EXPECT_TRUE(p.ok()) << ext << ": " << p.problem;
        EXPECT_EQ(p.width, 123) << ext;
        EXPECT_EQ(p.height, 45) << ext;
    }
}

namespace {

/// A JPEG with an APP1 EXIF block whose first directory lies at `ifdOffset`.
std::vector<std::uint8_t> jpegWithExifOffset(const std::string& path, std::uint32_t ifdOffset) {
    writeImage(path, solidBgr(32, 32, cv::Scalar(10, 200, 10)));
    std::vector<std::uint8_t> jpeg = readBytes(path);
    const std::vector<std::uint8_t> tiff{'I',
                                         'I',
                                         42,
                                         0,
                                         std::uint8_t(ifdOffset),
                                         std::uint8_t(ifdOffset >> 8),
                                         std::uint8_t(ifdOffset >> 16),
                                         std::uint8_t(ifdOffset >> 24),
                                         0,
                                         0,
                                         0,
                                         0,
                                         0,
                                         0,
                                         0,
                                         0};
    std::vector<std::uint8_t> app1{'E', 'x', 'i', 'f', 0, 0};
    app1.insert(app1.end(), tiff.begin(), tiff.end());
    const std::size_t length = app1.size() + 2;
    std::vector<std::uint8_t> segment{0xFF, 0xE1, std::uint8_t(length >> 8), std::uint8_t(length)};
    segment.insert(segment.end(), app1.begin(), app1.end());
    jpeg.insert(jpeg.begin() + 2, segment.begin(), segment.end());
    return jpeg;
}

/// A little-endian TIFF header pointing at its first directory, then `entries` 12-byte
/// directory entries (tag, type 4 = LONG, count 1, value) and nothing else.
std::vector<std::uint8_t> tiffBytes(std::uint32_t ifdOffset,
                                    const std::vector<std::pair<int, std::uint32_t>>& entries) {
    std::vector<std::uint8_t> b{'I', 'I', 42, 0};
    auto u16 = [&](unsigned v) {
        b.push_back(std::uint8_t(v));
        b.push_back(std::uint8_t(v >> 8));
    };
    auto u32 = [&](std::uint32_t v) {
        u16(v & 0xFFFF);
        u16(v >> 16);
    };
    u32(ifdOffset);
    u16(unsigned(entries.size()));
    for (const auto& [tag, value] : entries) {
        u16(unsigned(tag));
        u16(4);
        u32(1);
        u32(value);
    }
    u32(0);
    while (b.size() < 72)
        b.push_back(0);
    return b;
}

}  // namespace

TEST(ImageDecoder, exifDirectoryOffsetNearFourGigabytesIsIgnoredNotACrash) {
    TempDir dir;
    const std::string path = dir.file("exif.jpg");
    writeBytes(path, jpegWithExifOffset(path, 0xFFFFFFF0u));
    EXPECT_TRUE(probeImageFile(path).ok());
    const cv::Mat rgb = decodeImageFile(path);
    EXPECT_EQ(rgb.cols, 32);
    expectNear(pixel(rgb, 16, 16), 10, 200, 10, 8);
}

TEST(ImageProbe, tiffDirectoryOffsetNearFourGigabytesIsReportedNotACrash) {
    TempDir dir;
    const std::string path = dir.file("far.tif");
    writeBytes(path, tiffBytes(0xFFFFFFFEu, {}));
    const ImageProbe p = probeImageFile(path);
    EXPECT_FALSE(p.ok());
    EXPECT_EQ(p.problem, "truncated TIFF (directory missing)");
    EXPECT_THROW(decodeImageFile(path), Error);
}

TEST(ImageProbe, tiffWithDuplicatedSizeTagsIsRefusedBeforeDecoding) {
    // libtiff keeps the first ImageWidth (20000) where a reader keeping the last sees 20: the
    // pixel limit must hold for what the decoder would allocate.
    TempDir dir;
    const std::string path = dir.file("twice.tif");
    writeBytes(path, tiffBytes(8, {{256, 20000}, {257, 20000}, {256, 20}, {257, 20}}));
    const ImageProbe p = probeImageFile(path);
    EXPECT_FALSE(p.ok());
    EXPECT_EQ(p.problem, "corrupt TIFF (ImageWidth given twice)");
    try {
        decodeImageFile(path);
        FAIL() << "a TIFF with two widths was decoded";
    } catch (const Error& e) {
        EXPECT_EQ(e.reason(), "corrupt TIFF (ImageWidth given twice)");
    }
}

TEST(ImageDecoder, libraryWarningsAreKeptNotPrinted) {
    // libjpeg printed "Corrupt JPEG data: ..." and OpenCV "[ WARN:0@...]" / "imdecode_(''):
    // can't read data" lines to stderr for damaged files, flooding a scan.
    TempDir dir;
    const std::string cut = dir.file("cut.jpg");
    writeImage(cut, patternBgr(64, 48));
    auto jpeg = readBytes(cut);
    // The last third of the scan data gone, the end marker kept: libjpeg warns ("premature
    // end of data segment") and still decodes, the rest grey.
    jpeg.erase(jpeg.end() - 2 - std::ptrdiff_t(jpeg.size() / 3), jpeg.end() - 2);
    writeBytes(cut, jpeg);
    // A TIFF whose one strip lies past the end of the file: libtiff fails to read it.
    const std::string tiff = dir.file("strip.tif");
    writeBytes(tiff, tiffBytes(8, {{256, 64},
                                   {257, 48},
                                   {258, 8},
                                   {259, 1},
                                   {262, 2},
                                   {273, 5000},
                                   {277, 3},
                                   {278, 48},
                                   {279, 64 * 48 * 3}}));

    // libpng printed "libpng error: IDAT: ..." through OpenCV's PNG reader.
    const std::string png = dir.file("garbled.png");
    writeImage(png, patternBgr(32, 32));
    auto pngBytes = readBytes(png);
    for (std::size_t i = 60; i + 20 < pngBytes.size(); ++i)
        pngBytes[i] = std::uint8_t(i * 31);
    writeBytes(png, pngBytes);

    testing::internal::CaptureStderr();
    std::string pngFailure;
    try {
        decodeImageFile(png);
    } catch (const Error& e) {
        pngFailure = e.reason();
    }
    std::string warning;
    DecodeOptions options;
    options.warning = &warning;
    const cv::Mat decoded = decodeImageFile(cut, options);
    std::string failure;
    try {
        decodeImageFile(tiff);
    } catch (const Error& e) {
        failure = e.reason();
    }
    const std::string printed = testing::internal::GetCapturedStderr();
    EXPECT_EQ(printed, "");
    EXPECT_EQ(decoded.cols, 64);
    EXPECT_NE(warning.find("Corrupt JPEG data"), std::string::npos) << warning;
    EXPECT_EQ(failure.rfind("corrupt TIFF", 0), 0u) << failure;
    EXPECT_EQ(pngFailure.rfind("corrupt PNG (", 0), 0u) << pngFailure;
}
