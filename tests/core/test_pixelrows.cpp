// train/pixelrows: the AVX2 loops that turn a row of RGB bytes into a batch's floats give the
// portable loops' floats bit for bit, in both layouts, with and without red and blue swapped,
// at every width around the vector steps (16 pixels planar, 8 floats interleaved), and write
// nothing past the row.
#include "train/pixelrows.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

using namespace convscope;

namespace {

PixelTransform someTransform(bool swap) {
    PixelTransform t;
    const float scale[3] = {1.0f / 255.0f / 0.229f, 1.0f / 255.0f / 0.224f, 0.01742919f};
    const float shift[3] = {-0.485f / 0.229f, -0.456f / 0.224f, -103.939f};
    std::memcpy(t.scale, scale, sizeof scale);
    std::memcpy(t.shift, shift, sizeof shift);
    t.swapRedBlue = swap;
    return t;
}

std::vector<std::uint8_t> randomRow(int width, unsigned seed) {
    std::mt19937 random(seed);
    std::vector<std::uint8_t> row(std::size_t(width) * 3);
    for (auto& v : row)
        v = std::uint8_t(random());
    return row;
}

constexpr float kUntouched = -12345.0f;

}  // namespace

TEST(PixelRows, vectorLoopsGiveThePortableFloatsAtEveryWidth) {
    // On a CPU without AVX2 both calls take the portable loops; every CPU here has it.
    for (const bool swap : {false, true}) {
        const PixelTransform t = someTransform(swap);
        for (int width = 1; width <= 70; ++width) {
            const auto row = randomRow(width, unsigned(width * 2 + swap));
            const std::size_t n = std::size_t(width);
            // Each plane with one guard float after it.
            std::vector<float> fast(3 * (n + 1), kUntouched), slow(3 * (n + 1), kUntouched);
            rowToPlanes(row.data(), width, t, &fast[0], &fast[n + 1], &fast[2 * (n + 1)], true);
            rowToPlanes(row.data(), width, t, &slow[0], &slow[n + 1], &slow[2 * (n + 1)], false);
            ASSERT_EQ(std::memcmp(fast.data(), slow.data(), fast.size() * sizeof(float)), 0)
                << "planes, width " << width << (swap ? ", swapped" : "");
            for (int c = 0; c < 3; ++c)
                EXPECT_EQ(fast[std::size_t(c) * (n + 1) + n], kUntouched) << width;

            std::vector<float> fastRow(3 * n + 1, kUntouched), slowRow(3 * n + 1, kUntouched);
            rowToInterleaved(row.data(), width, t, fastRow.data(), true);
            rowToInterleaved(row.data(), width, t, slowRow.data(), false);
            ASSERT_EQ(std::memcmp(fastRow.data(), slowRow.data(), fastRow.size() * sizeof(float)),
                      0)
                << "interleaved, width " << width << (swap ? ", swapped" : "");
            EXPECT_EQ(fastRow.back(), kUntouched) << width;
        }
    }
}

TEST(PixelRows, eachChannelIsScaledAndShiftedOnItsOwn) {
    const std::uint8_t rgb[6] = {10, 20, 30, 200, 100, 0};
    PixelTransform t;
    t.scale[0] = 2;
    t.scale[1] = 3;
    t.scale[2] = 4;
    t.shift[0] = -1;
    t.shift[1] = 0.5f;
    t.shift[2] = 7;
    for (const bool simd : {true, false}) {
        float r[2], g[2], b[2], interleaved[6];
        rowToPlanes(rgb, 2, t, r, g, b, simd);
        EXPECT_EQ(r[0], 19);
        EXPECT_EQ(g[0], 60.5f);
        EXPECT_EQ(b[0], 127);
        EXPECT_EQ(r[1], 399);
        EXPECT_EQ(b[1], 7);
        rowToInterleaved(rgb, 2, t, interleaved, simd);
        EXPECT_EQ(interleaved[0], 19);
        EXPECT_EQ(interleaved[4], 300.5f);
        EXPECT_EQ(interleaved[5], 7);
        t.swapRedBlue = true;  // blue comes first, and red last
        rowToPlanes(rgb, 2, t, r, g, b, simd);
        EXPECT_EQ(r[0], 59);
        EXPECT_EQ(b[0], 47);
        rowToInterleaved(rgb, 2, t, interleaved, simd);
        EXPECT_EQ(interleaved[3], -1);
        EXPECT_EQ(interleaved[5], 807);
        t.swapRedBlue = false;
    }
}
