#include "data/jpeghuffman.h"

#include "data/imagedecoder.h"
#include "error.h"

#include "testimages.h"

#include <gtest/gtest.h>
#include <opencv2/core.hpp>

#include <cstdio>
#include <jpeglib.h>

#include <csetjmp>
#include <cstdint>
#include <string>
#include <vector>

using namespace convscope;
using namespace convscope::test;

namespace {

struct Encoding {
    int quality = 90;
    int lumaH = 2, lumaV = 2;   // sampling of the first component; the others take 1x1
    unsigned restartEvery = 0;  // MCUs
    bool optimize = false;      // tables of the image's own instead of the standard ones
    bool progressive = false;
    bool arithmetic = false;
    bool grey = false;
};

struct JpegFailure {
    jpeg_error_mgr manager;
    std::jmp_buf jump;
};

[[noreturn]] void jumpOut(j_common_ptr info) {
    std::longjmp(reinterpret_cast<JpegFailure*>(info->err)->jump, 1);
}

void countWarning(j_common_ptr) {}

std::vector<std::uint8_t> encodeJpeg(const cv::Mat& rgb, const Encoding& e) {
    jpeg_compress_struct info{};
    JpegFailure failure{};
    info.err = jpeg_std_error(&failure.manager);
    failure.manager.error_exit = jumpOut;
    unsigned char* out = nullptr;
    unsigned long size = 0;
    if (setjmp(failure.jump)) {
        jpeg_destroy_compress(&info);
        std::free(out);
        ADD_FAILURE() << "libjpeg could not encode the test image";
        return {};
    }
    jpeg_create_compress(&info);
    jpeg_mem_dest(&info, &out, &size);
    info.image_width = JDIMENSION(rgb.cols);
    info.image_height = JDIMENSION(rgb.rows);
    info.input_components = e.grey ? 1 : 3;
    info.in_color_space = e.grey ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&info);
    jpeg_set_quality(&info, e.quality, TRUE);
    if (!e.grey) {
        info.comp_info[0].h_samp_factor = e.lumaH;
        info.comp_info[0].v_samp_factor = e.lumaV;
    }
    info.restart_interval = e.restartEvery;
    info.optimize_coding = e.optimize ? TRUE : FALSE;
    info.arith_code = e.arithmetic ? TRUE : FALSE;
    if (e.progressive)
        jpeg_simple_progression(&info);
    jpeg_start_compress(&info, TRUE);
    std::vector<std::uint8_t> row(std::size_t(rgb.cols) * 3);
    while (info.next_scanline < info.image_height) {
        const auto* pixels = rgb.ptr<std::uint8_t>(int(info.next_scanline));
        if (e.grey)
            for (int x = 0; x < rgb.cols; ++x)
                row[std::size_t(x)] = pixels[3 * x + 1];
        else
            std::copy(pixels, pixels + row.size(), row.begin());
        JSAMPROW rows[1] = {row.data()};
        jpeg_write_scanlines(&info, rows, 1);
    }
    jpeg_finish_compress(&info);
    jpeg_destroy_compress(&info);
    std::vector<std::uint8_t> bytes(out, out + size);
    std::free(out);
    return bytes;
}

struct Decoded {
    cv::Mat pixels;
    bool installed = false;
    bool failed = false;
    int warnings = 0;
};

// Decodes to RGB at 1/scaleDenom with libjpeg, with or without JpegHuffmanDecoder; stops at
// the first row after the decoder reports failure. Errors come back as an empty matrix.
Decoded decode(const std::vector<std::uint8_t>& bytes, int scaleDenom, bool own) {
    Decoded d;
    jpeg_decompress_struct info{};
    JpegFailure failure{};
    info.err = jpeg_std_error(&failure.manager);
    failure.manager.error_exit = jumpOut;
    failure.manager.output_message = countWarning;
    JpegHuffmanDecoder huffman;
    if (setjmp(failure.jump)) {
        jpeg_destroy_decompress(&info);
        return Decoded{};
    }
    jpeg_create_decompress(&info);
    jpeg_mem_src(&info, bytes.data(), static_cast<unsigned long>(bytes.size()));
    jpeg_read_header(&info, TRUE);
    info.out_color_space = JCS_RGB;
    info.scale_num = 1;
    info.scale_denom = unsigned(scaleDenom);
    jpeg_start_decompress(&info);
    d.installed = own && huffman.install(info);
    cv::Mat pixels(int(info.output_height), int(info.output_width), CV_8UC3);
    while (info.output_scanline < info.output_height && !huffman.failed()) {
        JSAMPROW row = pixels.ptr(int(info.output_scanline));
        jpeg_read_scanlines(&info, &row, 1);
    }
    d.failed = huffman.failed();
    if (!d.failed)
        jpeg_finish_decompress(&info);
    d.warnings = int(failure.manager.num_warnings);
    jpeg_destroy_decompress(&info);
    d.pixels = pixels;
    return d;
}

// Smooth ramps with noise on the left half, so the scan has both long runs of zeros and
// large coefficients, whose codes and value bits do not fit one table lookup.
cv::Mat photoLike(int w, int h, int seed) {
    cv::Mat image = rampsImage(w, h);
    const cv::Mat noise = noiseImage(w, h, seed);
    noise(cv::Rect(0, 0, (w + 1) / 2, h)).copyTo(image(cv::Rect(0, 0, (w + 1) / 2, h)));
    return image;
}

void expectLibjpegsPixels(const std::vector<std::uint8_t>& bytes, bool expectInstalled,
                          const std::string& what) {
    for (int scale : {1, 2, 4, 8}) {
        const Decoded theirs = decode(bytes, scale, false);
        const Decoded ours = decode(bytes, scale, true);
        ASSERT_FALSE(theirs.pixels.empty()) << what;
        EXPECT_EQ(ours.installed, expectInstalled) << what << ", 1/" << scale;
        EXPECT_FALSE(ours.failed) << what << ", 1/" << scale;
        EXPECT_EQ(ours.warnings, theirs.warnings) << what << ", 1/" << scale;
        ASSERT_EQ(ours.pixels.size(), theirs.pixels.size()) << what;
        EXPECT_EQ(cv::norm(ours.pixels, theirs.pixels, cv::NORM_INF), 0) << what << ", 1/" << scale;
    }
}

// What decodeImageBytes, the decoder every caller uses, gives for `bytes` at target x target
// (0: the image's size), with ConvScope's Huffman decoder or libjpeg-turbo's: the pixels and
// the warning, or the error it threw.
struct Outcome {
    cv::Mat pixels;
    std::string warning, error;
};

Outcome throughImageDecoder(const std::vector<std::uint8_t>& bytes, bool libjpegHuffman,
                            int target = 0) {
    Outcome out;
    DecodeOptions options;
    options.width = options.height = target;
    options.warning = &out.warning;
    options.libjpegHuffman = libjpegHuffman;
    try {
        out.pixels = decodeImageBytes(bytes.data(), bytes.size(), options, "image");
    } catch (const Error& error) {
        out.error = error.what();
    }
    return out;
}

std::string describe(const Encoding& e, cv::Size size) {
    return std::to_string(size.width) + "x" + std::to_string(size.height) + " q" +
           std::to_string(e.quality) + " " + std::to_string(e.lumaH) + "x" +
           std::to_string(e.lumaV) + (e.grey ? " grey" : "") + (e.optimize ? " optimised" : "") +
           " restart " + std::to_string(e.restartEvery);
}

}  // namespace

TEST(JpegHuffman, givesLibjpegsPixelsToTheBitForBaselineScans) {
    const cv::Size sizes[] = {{1, 1}, {7, 9}, {16, 16}, {150, 100}, {333, 257}};
    const std::pair<int, int> samplings[] = {{1, 1}, {2, 1}, {2, 2}, {1, 2}, {4, 1}};
    int seed = 1;
    for (const cv::Size size : sizes) {
        for (const auto& [h, v] : samplings) {
            for (int quality : {30, 90, 100}) {
                Encoding e;
                e.quality = quality;
                e.lumaH = h;
                e.lumaV = v;
                e.optimize = quality == 90;
                const auto bytes = encodeJpeg(photoLike(size.width, size.height, seed++), e);
                expectLibjpegsPixels(bytes, true, describe(e, size));
            }
        }
        Encoding grey;
        grey.grey = true;
        expectLibjpegsPixels(encodeJpeg(photoLike(size.width, size.height, seed++), grey), true,
                             describe(grey, size));
    }
}

TEST(JpegHuffman, followsRestartIntervals) {
    for (unsigned every : {1u, 2u, 3u, 7u, 8u, 9u, 100u}) {
        for (bool grey : {false, true}) {
            Encoding e;
            e.restartEvery = every;
            e.grey = grey;
            e.quality = 95;
            const cv::Size size(203, 61);
            expectLibjpegsPixels(encodeJpeg(photoLike(size.width, size.height, int(every)), e),
                                 true, describe(e, size));
        }
    }
}

TEST(JpegHuffman, leavesProgressiveAndArithmeticScansToLibjpeg) {
    const cv::Mat image = photoLike(120, 80, 5);
    Encoding progressive;
    progressive.progressive = true;
    expectLibjpegsPixels(encodeJpeg(image, progressive), false, "progressive");
    Encoding arithmetic;
    arithmetic.arithmetic = true;
    const auto bytes = encodeJpeg(image, arithmetic);
    if (decode(bytes, 1, false).pixels.empty())
        GTEST_SKIP() << "this libjpeg decodes no arithmetic coding";
    expectLibjpegsPixels(bytes, false, "arithmetic");
}

TEST(JpegHuffman, keepsEachScansTablesWhileOtherFilesBringTheirOwn) {
    // Optimised tables differ from image to image: more of them than the eight the decoder
    // keeps, decoded in turn, with the standard tables between.
    std::vector<std::vector<std::uint8_t>> files;
    for (int i = 0; i < 12; ++i) {
        Encoding e;
        e.optimize = i % 3 != 0;
        e.quality = 50 + 4 * i;
        e.lumaH = 1 + i % 2;
        files.push_back(encodeJpeg(photoLike(40 + i, 30, 100 + i), e));
    }
    for (int pass = 0; pass < 2; ++pass)
        for (std::size_t i = 0; i < files.size(); ++i)
            expectLibjpegsPixels(files[i], true, "file " + std::to_string(i));
}

TEST(JpegHuffman, leavesWhatFollowsTheLastMcuToLibjpeg) {
    // A restart marker after the scan's last MCU, then bytes that are no marker, then the end:
    // libjpeg reads the marker and warns about the bytes after it, whether the file has restart
    // intervals (the marker is one too many) or not (it ends the scan's data). So must a decode
    // with ConvScope's Huffman decoder, which must not skip past that marker.
    for (unsigned every : {0u, 4u}) {
        Encoding e;
        e.restartEvery = every;
        std::vector<std::uint8_t> bytes = encodeJpeg(photoLike(64, 48, 21), e);
        ASSERT_GE(bytes.size(), 4u);
        ASSERT_EQ(bytes[bytes.size() - 2], 0xFF);
        ASSERT_EQ(bytes[bytes.size() - 1], 0xD9);
        bytes.insert(bytes.end() - 2, {0xFF, 0xD6, 0x12, 0x34, 0x56});
        const std::string what = "restart every " + std::to_string(every);
        EXPECT_EQ(decode(bytes, 1, false).warnings, 1) << what;
        expectLibjpegsPixels(bytes, true, what);

        const Outcome ours = throughImageDecoder(bytes, false);
        const Outcome theirs = throughImageDecoder(bytes, true);
        ASSERT_EQ(theirs.error, "") << what;
        ASSERT_EQ(ours.error, "") << what;
        EXPECT_NE(theirs.warning.find("extraneous bytes before marker 0xd9"), std::string::npos)
            << what << ": " << theirs.warning;
        EXPECT_EQ(ours.warning, theirs.warning) << what;
        EXPECT_EQ(cv::norm(ours.pixels, theirs.pixels, cv::NORM_INF), 0) << what;
    }
}

TEST(JpegHuffman, damagedScansAreDecodedAgainByLibjpeg) {
    Encoding e;
    e.restartEvery = 4;
    e.quality = 92;
    const std::vector<std::uint8_t> good = encodeJpeg(photoLike(160, 120, 9), e);
    // The scan starts after the start-of-scan marker's header.
    std::size_t sos = 0;
    while (sos + 1 < good.size() && !(good[sos] == 0xFF && good[sos + 1] == 0xDA))
        ++sos;
    ASSERT_LT(sos + 1, good.size());
    const std::size_t scan = sos + 2 + (std::size_t(good[sos + 2]) << 8 | good[sos + 3]);

    // What the decoder does with each: a scan with no marker after it, or with FF FF 00, is
    // never taken over; the others are, and fail where the damage is. The image decoder
    // refuses a file cut short before decoding; the others decode, with libjpeg's warning.
    struct Case {
        std::string what;
        std::vector<std::uint8_t> bytes;
        bool installed;
        std::string warning;
    };
    std::vector<Case> damaged;
    damaged.push_back(
        {"cut in the middle of the scan",
         std::vector<std::uint8_t>(good.begin(), good.begin() + long(good.size() / 2)), false, ""});
    damaged.push_back({"cut just after the scan's start",
                       std::vector<std::uint8_t>(good.begin(), good.begin() + long(scan + 3)),
                       false, ""});
    std::vector<std::uint8_t> ones = good;
    for (std::size_t i = scan + 200; i < scan + 260; ++i)
        if (ones[i] != 0xFF && ones[i - 1] != 0xFF)
            ones[i] = 0xFE;  // runs of long codes, none of them valid
    damaged.push_back({"ones in the scan", ones, true, "extraneous bytes before marker"});
    std::vector<std::uint8_t> swapped = good;
    for (std::size_t i = scan; i + 1 < swapped.size(); ++i)
        if (swapped[i] == 0xFF && swapped[i + 1] == 0xD1) {
            swapped[i + 1] = 0xD5;  // a restart marker out of order
            break;
        }
    damaged.push_back({"restart marker out of order", swapped, true, "instead of RST1"});
    // FF FF 00, not valid: libjpeg-turbo's two Huffman paths read it differently.
    std::vector<std::uint8_t> fill = good;
    for (std::size_t i = scan; i + 1 < fill.size(); ++i)
        if (fill[i] == 0xFF && fill[i + 1] == 0x00) {
            fill.insert(fill.begin() + long(i), 0xFF);
            break;
        }
    ASSERT_NE(fill.size(), good.size()) << "the test image's scan has no stuffed byte";
    damaged.push_back({"a fill byte before a stuffed byte", fill, false, ""});
    // Bytes between the last code and the next marker: libjpeg warns of those it does not
    // read ahead into its bit buffer.
    std::vector<std::uint8_t> extraAtEnd = good;
    extraAtEnd.insert(extraAtEnd.end() - 2, {0x12, 0x34, 0x56});
    damaged.push_back({"bytes left over before the end marker", extraAtEnd, true, ""});
    std::vector<std::uint8_t> extraInside = good;
    for (std::size_t i = scan; i + 1 < extraInside.size(); ++i)
        if (extraInside[i] == 0xFF && extraInside[i + 1] == 0xD2) {
            extraInside.insert(extraInside.begin() + long(i), {0x00, 0x00});
            break;
        }
    damaged.push_back(
        {"bytes left over before a restart marker", extraInside, true, "extraneous bytes"});

    for (const auto& [what, bytes, installed, warning] : damaged) {
        const Decoded direct = decode(bytes, 2, true);
        EXPECT_EQ(direct.installed, installed) << what;
        EXPECT_EQ(direct.failed, installed) << what;
        // Through the decoder every caller uses: the same outcome with and without it,
        // including libjpeg's warning about the damage.
        const Outcome ours = throughImageDecoder(bytes, false);
        const Outcome theirs = throughImageDecoder(bytes, true);
        EXPECT_EQ(ours.error, theirs.error) << what;
        EXPECT_EQ(ours.warning, theirs.warning) << what;
        ASSERT_EQ(ours.pixels.size(), theirs.pixels.size()) << what;
        if (!ours.pixels.empty()) {
            EXPECT_EQ(cv::norm(ours.pixels, theirs.pixels, cv::NORM_INF), 0) << what;
            EXPECT_NE(theirs.warning.find(warning), std::string::npos) << what;
            EXPECT_EQ(theirs.warning.empty(), warning.empty()) << what;
        }
    }
}

TEST(JpegHuffman, decodesEveryJpegTheImageDecoderReadsAsLibjpegDoes) {
    // The image decoder's own path: same pixels at the training size and at full size.
    for (int i = 0; i < 4; ++i) {
        Encoding e;
        e.quality = 70 + 10 * i;
        e.restartEvery = unsigned(i);
        const auto bytes = encodeJpeg(photoLike(300 + 37 * i, 250 - 20 * i, 40 + i), e);
        for (int target : {0, 150}) {
            const Outcome ours = throughImageDecoder(bytes, false, target);
            const Outcome theirs = throughImageDecoder(bytes, true, target);
            ASSERT_EQ(ours.error, "") << i << " at " << target;
            ASSERT_EQ(theirs.error, "") << i << " at " << target;
            EXPECT_EQ(ours.warning, theirs.warning) << i << " at " << target;
            ASSERT_EQ(ours.pixels.size(), theirs.pixels.size());
            EXPECT_EQ(cv::norm(ours.pixels, theirs.pixels, cv::NORM_INF), 0)
                << i << " at " << target;
        }
    }
}
