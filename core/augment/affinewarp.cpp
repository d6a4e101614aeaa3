#include "augment/affinewarp.h"

#include "error.h"
#include "util/cpufeatures.h"

#include <opencv2/core.hpp>

#include <algorithm>
#include <array>
#include <cstring>
#include <vector>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define CONVSCOPE_WARP_AVX2 1
#endif

namespace convscope {

namespace {

// Source positions beyond this are as far outside as any fill mode cares; clamping keeps the
// float-to-int conversion defined.
constexpr float kFar = 1 << 20;
// Taps are weighted in 1/64ths: small enough that both blends fit the 8- and 16-bit
// multiply-adds of the vector loops.
constexpr int kOne = 64;
constexpr int kShift = 12;  // two blends of kOne each

// OpenCV's BORDER_REFLECT (scipy's "reflect": d c b a | a b c d) and BORDER_WRAP.
int reflectIndex(int i, int n) {
    const int period = 2 * n;
    int r = i % period;
    if (r < 0)
        r += period;
    return r < n ? r : period - 1 - r;
}

int wrapIndex(int i, int n) {
    const int r = i % n;
    return r < 0 ? r + n : r;
}

// The image inside a border of one pixel (the fill mode's values there), so that a pair of
// taps from -1 to the width or height can be read without looking at the fill mode.
struct Source {
    const std::uint8_t* origin;  // pixel (0, 0)
    int width, height;
    int stride;  // bytes from one row to the next: (width + 2) * 3
    const std::uint8_t* at(int x, int y) const {
        return origin + std::ptrdiff_t(y) * stride + std::ptrdiff_t(x) * 3;
    }
};

// A source position's pixel and its fraction towards the next one, in 1/64ths. Written out so
// that the vector loops can repeat it operation for operation: a multiply and an add (never
// fused), floor, the fraction rounded to nearest (even).
struct Position {
    int whole;
    int fraction;  // 0..kOne
};

// floor() and nearbyint() without the library calls that baseline x86-64 makes of them, and
// with the results of the vector loops' roundps and cvtps (|v| <= kFar).
float floorOf(float v) {
    const float t = float(int(v));
    return t > v ? t - 1 : t;
}

int nearestEven(float v) {
    // Adding and taking away 1.5 * 2^23 rounds to the nearest integer, ties to even.
    constexpr float kMagic = 12582912.0f;
    const float sum = v + kMagic;
    return int(sum - kMagic);
}

Position position(float scale, float at, float offset) {
    float v = scale * at;
    v = v + offset;
    v = std::min(std::max(v, -kFar), kFar);
    const float whole = floorOf(v);
    return {int(whole), nearestEven((v - whole) * float(kOne))};
}

// Nearest fill repeats the edge: a position left of the first pixel, or at or right of the
// last, blends the edge pixel with itself. Moving it to the edge pair (0, 1) or (n - 2, n - 1)
// with all the weight on the edge gives the same value and keeps both taps inside.
Position insideForNearest(Position p, int n) {
    if (p.whole < 0)
        return {0, 0};
    if (p.whole > n - 2)
        return {n - 2, kOne};
    return p;
}

int blend(int p00, int p01, int p10, int p11, int fx, int fy) {
    const int left = p00 * (kOne - fy) + p10 * fy;
    const int right = p01 * (kOne - fy) + p11 * fy;
    return (left * (kOne - fx) + right * fx + (1 << (kShift - 1))) >> kShift;
}

// One tap for the fill modes that the edge-pair move does not cover.
const std::uint8_t* tap(const Source& s, int x, int y, FillMode fill, const std::uint8_t* cval) {
    switch (fill) {
        case FillMode::Constant:
            if (x < 0 || y < 0 || x >= s.width || y >= s.height)
                return cval;
            break;
        case FillMode::Nearest:
            x = std::clamp(x, 0, s.width - 1);
            y = std::clamp(y, 0, s.height - 1);
            break;
        case FillMode::Reflect:
            x = reflectIndex(x, s.width);
            y = reflectIndex(y, s.height);
            break;
        case FillMode::Wrap:
            x = wrapIndex(x, s.width);
            y = wrapIndex(y, s.height);
            break;
    }
    return s.at(x, y);
}

void warpPixel(const Source& s, const float* m, float rowX, float rowY, int x, FillMode fill,
               const std::uint8_t* cval, std::uint8_t* out) {
    Position px = position(m[0], float(x), rowX);
    Position py = position(m[3], float(x), rowY);
    const std::uint8_t *p00, *p01, *p10, *p11;
    if (fill == FillMode::Nearest && s.width >= 2 && s.height >= 2) {
        px = insideForNearest(px, s.width);
        py = insideForNearest(py, s.height);
        p00 = s.at(px.whole, py.whole);
        p01 = p00 + 3;
        p10 = p00 + s.stride;
        p11 = p10 + 3;
    } else {
        p00 = tap(s, px.whole, py.whole, fill, cval);
        p01 = tap(s, px.whole + 1, py.whole, fill, cval);
        p10 = tap(s, px.whole, py.whole + 1, fill, cval);
        p11 = tap(s, px.whole + 1, py.whole + 1, fill, cval);
    }
    for (int c = 0; c < 3; ++c)
        out[c] = std::uint8_t(blend(p00[c], p01[c], p10[c], p11[c], px.fraction, py.fraction));
}

#ifdef CONVSCOPE_WARP_AVX2
#define AVX2_INLINE [[gnu::always_inline, gnu::target("avx2")]] inline

// Eight positions as position() computes them, and the lanes whose pair of taps (whole,
// whole + 1) the bordered Source holds. For the Nearest and Constant fills every lane is
// moved there: a position before -1 becomes (-1, 0) and one after n - 1 becomes (n - 1, 1),
// whose blends give the border's value, as the taps that were outside would have.
AVX2_INLINE void positions8(__m256 scale, __m256 at, __m256 offset, int n, bool moveInside,
                            __m256i& whole, __m256i& fraction, __m256i& inside) {
    __m256 v = _mm256_add_ps(_mm256_mul_ps(scale, at), offset);
    v = _mm256_min_ps(_mm256_max_ps(v, _mm256_set1_ps(-kFar)), _mm256_set1_ps(kFar));
    const __m256 floored = _mm256_floor_ps(v);
    whole = _mm256_cvttps_epi32(floored);
    fraction =
        _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_sub_ps(v, floored), _mm256_set1_ps(float(kOne))));
    const __m256i first = _mm256_set1_epi32(-1), last = _mm256_set1_epi32(n - 1);
    const __m256i before = _mm256_cmpgt_epi32(first, whole);
    const __m256i after = _mm256_cmpgt_epi32(whole, last);
    if (moveInside) {
        whole = _mm256_min_epi32(_mm256_max_epi32(whole, first), last);
        fraction = _mm256_andnot_si256(before, fraction);
        fraction = _mm256_blendv_epi8(fraction, _mm256_set1_epi32(kOne), after);
        inside = _mm256_set1_epi32(-1);
    } else {
        inside = _mm256_andnot_si256(_mm256_or_si256(before, after), _mm256_set1_epi32(-1));
    }
}

// One pixel: both taps of each row come from one 8-byte load (R G B R G B, then two bytes
// that are not used). The rows are interleaved byte by byte and blended with (64 - fy, fy)
// by one multiply-add, the columns paired and blended with (64 - fx, fx) by another.
AVX2_INLINE __m128i pixel(const std::uint8_t* top, int stride, int rowWeights, int columnWeights) {
    const __m128i a = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(top));
    const __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(top + stride));
    const __m128i rows =
        _mm_maddubs_epi16(_mm_unpacklo_epi8(a, b), _mm_set1_epi16(short(rowWeights)));
    // 16-bit lanes R0 G0 B0 R1 G1 B1 . . -> R0 R1 G0 G1 B0 B1 . .
    const __m128i pairs =
        _mm_shuffle_epi8(rows, _mm_setr_epi8(0, 1, 6, 7, 2, 3, 8, 9, 4, 5, 10, 11, -1, -1, -1, -1));
    const __m128i sums = _mm_madd_epi16(pairs, _mm_set1_epi32(columnWeights));
    return _mm_srai_epi32(_mm_add_epi32(sums, _mm_set1_epi32(1 << (kShift - 1))), kShift);
}

// A row, eight pixels at a time, the last eight overlapping the ones before when the width is
// not a multiple of eight (width >= 8). Pixels whose taps lie beyond the border (only with
// the Reflect and Wrap fills) are left to warpPixel().
[[gnu::target("avx2")]] void warpRowAvx2(const Source& s, const float* m, float rowX, float rowY,
                                         FillMode fill, const std::uint8_t* cval, std::uint8_t* out,
                                         int width) {
    const __m256 scaleX = _mm256_set1_ps(m[0]), scaleY = _mm256_set1_ps(m[3]);
    const __m256 offsetX = _mm256_set1_ps(rowX), offsetY = _mm256_set1_ps(rowY);
    const __m256 lanes = _mm256_setr_ps(0, 1, 2, 3, 4, 5, 6, 7);
    const bool moveInside = fill == FillMode::Nearest || fill == FillMode::Constant;
    const int stride = s.stride;
    const __m256i one = _mm256_set1_epi32(kOne);
    // Four pixels' R G B 0 to their 12 bytes.
    const __m128i pack = _mm_setr_epi8(0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1);
    for (int step = 0; step < width; step += 8) {
        const int x = std::min(step, width - 8);
        const __m256 at = _mm256_add_ps(_mm256_set1_ps(float(x)), lanes);
        __m256i x0, fx, y0, fy, insideX, insideY;
        positions8(scaleX, at, offsetX, s.width, moveInside, x0, fx, insideX);
        positions8(scaleY, at, offsetY, s.height, moveInside, y0, fy, insideY);
        const int inside =
            _mm256_movemask_ps(_mm256_castsi256_ps(_mm256_and_si256(insideX, insideY)));
        alignas(32) int offsets[8], rowWeights[8], columnWeights[8];
        _mm256_store_si256(reinterpret_cast<__m256i*>(offsets),
                           _mm256_add_epi32(_mm256_mullo_epi32(y0, _mm256_set1_epi32(stride)),
                                            _mm256_add_epi32(x0, _mm256_slli_epi32(x0, 1))));
        // (64 - f) in the low byte (16-bit half), f in the high one.
        _mm256_store_si256(reinterpret_cast<__m256i*>(rowWeights),
                           _mm256_or_si256(_mm256_sub_epi32(one, fy), _mm256_slli_epi32(fy, 8)));
        _mm256_store_si256(reinterpret_cast<__m256i*>(columnWeights),
                           _mm256_or_si256(_mm256_sub_epi32(one, fx), _mm256_slli_epi32(fx, 16)));
        for (int half = 0; half < 8; half += 4) {
            __m128i v[4];
            for (int k = 0; k < 4; ++k) {
                const int lane = half + k;
                if (inside & (1 << lane)) {
                    v[k] = pixel(s.origin + offsets[lane], stride, rowWeights[lane],
                                 columnWeights[lane]);
                } else {
                    std::uint8_t rgb[3];
                    warpPixel(s, m, rowX, rowY, x + lane, fill, cval, rgb);
                    v[k] = _mm_setr_epi32(rgb[0], rgb[1], rgb[2], 0);
                }
            }
            // 32-bit R G B 0 per pixel -> bytes R G B 0 of the four pixels in turn.
            const __m128i bytes =
                _mm_packus_epi16(_mm_packs_epi32(v[0], v[1]), _mm_packs_epi32(v[2], v[3]));
            std::uint8_t twelve[16];
            _mm_storeu_si128(reinterpret_cast<__m128i*>(twelve), _mm_shuffle_epi8(bytes, pack));
            std::memcpy(out + 3 * (x + half), twelve, 12);
        }
    }
}

#undef AVX2_INLINE

// GCC 12's AVX-512 intrinsics hand an "undefined" vector to the builtins of their unmasked
// forms, which -Wmaybe-uninitialized reports once they are inlined (GCC bug 105593, fixed in
// GCC 13).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#define AVX512_TARGET gnu::target("avx512f,avx512bw,avx512vl,avx512vbmi")
#define AVX512_INLINE [[gnu::always_inline, AVX512_TARGET]] inline

// positions8() for sixteen positions (the file is built without fused multiply-adds).
AVX512_INLINE void positions16(__m512 scale, __m512 at, __m512 offset, int n, bool moveInside,
                               __m512i& whole, __m512i& fraction, __mmask16& inside) {
    __m512 v = _mm512_add_ps(_mm512_mul_ps(scale, at), offset);
    v = _mm512_min_ps(_mm512_max_ps(v, _mm512_set1_ps(-kFar)), _mm512_set1_ps(kFar));
    const __m512 floored = _mm512_roundscale_ps(v, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    whole = _mm512_cvttps_epi32(floored);
    fraction =
        _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_sub_ps(v, floored), _mm512_set1_ps(float(kOne))));
    const __m512i first = _mm512_set1_epi32(-1), last = _mm512_set1_epi32(n - 1);
    const __mmask16 before = _mm512_cmpgt_epi32_mask(first, whole);
    const __mmask16 after = _mm512_cmpgt_epi32_mask(whole, last);
    if (moveInside) {
        whole = _mm512_min_epi32(_mm512_max_epi32(whole, first), last);
        fraction = _mm512_maskz_mov_epi32(__mmask16(~before), fraction);
        fraction = _mm512_mask_mov_epi32(fraction, after, _mm512_set1_epi32(kOne));
        inside = 0xFFFF;
    } else {
        inside = __mmask16(~(before | after));
    }
}

// Eight pixels, the even ones in `even` and the odd ones in `odd`, one per 128-bit lane, as
// four 32-bit sums R G B 0 rounded to bytes' range: pixel() for eight at once. Both taps of a
// row come from one 8-byte gather; `rowWeights` and `columnWeights` hold each pixel's weights
// (as pixel() takes them) in both 16-bit halves of a 32-bit lane, sixteen pixels from `first`.
AVX512_INLINE void pixels8(const Source& s, __m256i offsets, __mmask8 inside, __m512i rowWeights,
                           __m512i columnWeights, int first, __m512i& even, __m512i& odd) {
    const __m512i top =
        _mm512_mask_i32gather_epi64(_mm512_setzero_si512(), inside, offsets, s.origin, 1);
    const __m512i bottom = _mm512_mask_i32gather_epi64(_mm512_setzero_si512(), inside, offsets,
                                                       s.origin + s.stride, 1);
    const __m512i pairs =
        _mm512_broadcast_i32x4(_mm_setr_epi8(0, 1, 6, 7, 2, 3, 8, 9, 4, 5, 10, 11, -1, -1, -1, -1));
    const __m512i half = _mm512_set1_epi32(1 << (kShift - 1));
    __m512i* results[2] = {&even, &odd};
    for (int parity = 0; parity < 2; ++parity) {
        // Each 128-bit lane takes one pixel's weights: pixels first + parity, + 2, + 4, + 6.
        const int p = first + parity;
        const __m512i spread = _mm512_setr_epi32(p, p, p, p, p + 2, p + 2, p + 2, p + 2, p + 4,
                                                 p + 4, p + 4, p + 4, p + 6, p + 6, p + 6, p + 6);
        const __m512i interleaved =
            parity == 0 ? _mm512_unpacklo_epi8(top, bottom) : _mm512_unpackhi_epi8(top, bottom);
        const __m512i rows =
            _mm512_maddubs_epi16(interleaved, _mm512_permutexvar_epi32(spread, rowWeights));
        const __m512i sums = _mm512_madd_epi16(_mm512_shuffle_epi8(rows, pairs),
                                               _mm512_permutexvar_epi32(spread, columnWeights));
        *results[parity] = _mm512_srai_epi32(_mm512_add_epi32(sums, half), kShift);
    }
}

// The bytes R G B of pixels 0..15 in turn, from where the packs of pixels8()'s results leave
// them: 128-bit lane k holds pixels 2k, 2k + 1, 8 + 2k and 9 + 2k, each as R G B 0.
constexpr std::array<std::uint8_t, 64> sixteenPixelsInOrder() {
    std::array<std::uint8_t, 64> order{};
    for (int pixel = 0; pixel < 16; ++pixel) {
        const int lane = (pixel % 8) / 2, slot = (pixel / 8) * 2 + pixel % 2;
        for (int c = 0; c < 3; ++c)
            order[std::size_t(pixel * 3 + c)] = std::uint8_t(lane * 16 + slot * 4 + c);
    }
    return order;
}
alignas(64) constexpr std::array<std::uint8_t, 64> kSixteenPixelsInOrder = sixteenPixelsInOrder();

// warpRowAvx2() sixteen pixels at a time (width >= 16), with the taps read by gathers and the
// sixteen pixels' bytes put in order by one byte permutation.
[[AVX512_TARGET]] void warpRowAvx512(const Source& s, const float* m, float rowX, float rowY,
                                     FillMode fill, const std::uint8_t* cval, std::uint8_t* out,
                                     int width) {
    const __m512 scaleX = _mm512_set1_ps(m[0]), scaleY = _mm512_set1_ps(m[3]);
    const __m512 offsetX = _mm512_set1_ps(rowX), offsetY = _mm512_set1_ps(rowY);
    const __m512 lanes = _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const bool moveInside = fill == FillMode::Nearest || fill == FillMode::Constant;
    const __m512i one = _mm512_set1_epi32(kOne);
    const __m512i permutation = _mm512_load_si512(kSixteenPixelsInOrder.data());
    constexpr __mmask64 kFortyEight = (__mmask64(1) << 48) - 1;
    for (int step = 0; step < width; step += 16) {
        const int x = std::min(step, width - 16);
        const __m512 at = _mm512_add_ps(_mm512_set1_ps(float(x)), lanes);
        __m512i x0, fx, y0, fy;
        __mmask16 insideX, insideY;
        positions16(scaleX, at, offsetX, s.width, moveInside, x0, fx, insideX);
        positions16(scaleY, at, offsetY, s.height, moveInside, y0, fy, insideY);
        const __mmask16 inside = insideX & insideY;
        const __m512i offsets =
            _mm512_add_epi32(_mm512_mullo_epi32(y0, _mm512_set1_epi32(s.stride)),
                             _mm512_add_epi32(x0, _mm512_slli_epi32(x0, 1)));
        // (64 - f, f) as bytes for the rows, as 16-bit halves for the columns, in both halves.
        __m512i rowWeights = _mm512_or_si512(_mm512_sub_epi32(one, fy), _mm512_slli_epi32(fy, 8));
        rowWeights = _mm512_or_si512(rowWeights, _mm512_slli_epi32(rowWeights, 16));
        const __m512i columnWeights =
            _mm512_or_si512(_mm512_sub_epi32(one, fx), _mm512_slli_epi32(fx, 16));
        __m512i even0, odd0, even1, odd1;
        pixels8(s, _mm512_castsi512_si256(offsets), __mmask8(inside), rowWeights, columnWeights, 0,
                even0, odd0);
        pixels8(s, _mm512_extracti64x4_epi64(offsets, 1), __mmask8(inside >> 8), rowWeights,
                columnWeights, 8, even1, odd1);
        const __m512i bytes =
            _mm512_packus_epi16(_mm512_packs_epi32(even0, odd0), _mm512_packs_epi32(even1, odd1));
        _mm512_mask_storeu_epi8(out + 3 * x, kFortyEight,
                                _mm512_permutexvar_epi8(permutation, bytes));
        for (unsigned outside = ~unsigned(inside) & 0xFFFFu; outside != 0; outside &= outside - 1) {
            const int lane = __builtin_ctz(outside);
            warpPixel(s, m, rowX, rowY, x + lane, fill, cval, out + 3 * (x + lane));
        }
    }
}

#undef AVX512_INLINE
#undef AVX512_TARGET
#pragma GCC diagnostic pop
#endif

}  // namespace

void warpBilinear(const cv::Mat& src, cv::Mat& dst, const Affine2x3& a, FillMode fill,
                  std::uint8_t cval, WarpLoops loops) {
    if (src.type() != CV_8UC3 || src.empty())
        throw Error("augment", "expects a non-empty 8-bit RGB image");
    const int width = src.cols, height = src.rows;
    // The image inside its border, with room after it for the 8-byte reads of the vector
    // loops. The copy also brings the image into the cache before it is read out of order.
    thread_local std::vector<std::uint8_t> bordered;
    const std::uint8_t fillPixel[3] = {cval, cval, cval};
    const int stride = (width + 2) * 3;
    bordered.resize(std::size_t(stride) * std::size_t(height + 2) + 8);
    std::uint8_t* origin = bordered.data() + stride + 3;
    const Source s{origin, width, height, stride};
    for (int y = 0; y < height; ++y)
        std::memcpy(origin + std::ptrdiff_t(y) * stride, src.ptr(y), std::size_t(width) * 3);
    const Source image{src.data, width, height, int(src.step[0])};
    auto border = [&](int x, int y) {
        std::memcpy(origin + std::ptrdiff_t(y) * stride + std::ptrdiff_t(x) * 3,
                    tap(image, x, y, fill, fillPixel), 3);
    };
    for (int x = -1; x <= width; ++x) {
        border(x, -1);
        border(x, height);
    }
    for (int y = 0; y < height; ++y) {
        border(-1, y);
        border(width, y);
    }
    dst.create(height, width, CV_8UC3);

    const float m[6] = {float(a[0]), float(a[1]), float(a[2]),
                        float(a[3]), float(a[4]), float(a[5])};
    bool avx2 = false, avx512 = false;
#ifdef CONVSCOPE_WARP_AVX2
    avx512 = loops == WarpLoops::Widest && cpuHasAvx512Vbmi() && width >= 16;
    avx2 = loops != WarpLoops::Portable && cpuHasAvx2() && width >= 8;
#else
    (void)loops;
#endif
    for (int y = 0; y < height; ++y) {
        // The row's part of each position, as the vector loops add it.
        float rowX = m[1] * float(y);
        rowX = rowX + m[2];
        float rowY = m[4] * float(y);
        rowY = rowY + m[5];
        std::uint8_t* out = dst.ptr(y);
#ifdef CONVSCOPE_WARP_AVX2
        if (avx512) {
            warpRowAvx512(s, m, rowX, rowY, fill, fillPixel, out, width);
            continue;
        }
        if (avx2) {
            warpRowAvx2(s, m, rowX, rowY, fill, fillPixel, out, width);
            continue;
        }
#endif
        for (int x = 0; x < width; ++x)
            warpPixel(s, m, rowX, rowY, x, fill, fillPixel, out + 3 * x);
    }
}

}  // namespace convscope
