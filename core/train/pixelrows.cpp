#include "train/pixelrows.h"

#include "util/cpufeatures.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define CONVSCOPE_PIXELROWS_AVX2 1
#endif

namespace convscope {

namespace {

void planesPortable(const std::uint8_t* rgb, int from, int width, const PixelTransform& t,
                    float* red, float* green, float* blue) {
    const int c0 = t.swapRedBlue ? 2 : 0, c2 = 2 - c0;
    for (int x = from; x < width; ++x) {
        red[x] = float(rgb[3 * x + c0]) * t.scale[0] + t.shift[0];
        green[x] = float(rgb[3 * x + 1]) * t.scale[1] + t.shift[1];
        blue[x] = float(rgb[3 * x + c2]) * t.scale[2] + t.shift[2];
    }
}

void interleavedPortable(const std::uint8_t* rgb, int from, int width, const PixelTransform& t,
                         float* out) {
    const int c0 = t.swapRedBlue ? 2 : 0, c2 = 2 - c0;
    for (int i = 3 * from; i < 3 * width; i += 3) {
        out[i] = float(rgb[i + c0]) * t.scale[0] + t.shift[0];
        out[i + 1] = float(rgb[i + 1]) * t.scale[1] + t.shift[1];
        out[i + 2] = float(rgb[i + c2]) * t.scale[2] + t.shift[2];
    }
}

#ifdef CONVSCOPE_PIXELROWS_AVX2
#define AVX2_INLINE [[gnu::always_inline, gnu::target("avx2")]] inline

// The shuffle that gathers channel `channel` of 16 interleaved pixels from the 16 bytes of
// `part` (0, 1, 2) of their 48: the bytes it holds, in place; the others zero.
__m128i channelShuffle(int channel, int part) {
    alignas(16) std::int8_t m[16];
    for (int j = 0; j < 16; ++j) {
        const int at = 3 * j + channel;
        m[j] = std::int8_t(at / 16 == part ? at % 16 : -1);
    }
    return _mm_load_si128(reinterpret_cast<const __m128i*>(m));
}

struct Shuffles {
    __m128i of[3][3];  // [channel][part]
    Shuffles() {
        for (int c = 0; c < 3; ++c)
            for (int p = 0; p < 3; ++p)
                of[c][p] = channelShuffle(c, p);
    }
};

// Eight bytes to eight floats, times scale plus shift: a multiply, then an add, as the
// portable loop rounds them.
AVX2_INLINE __m256 convert8(__m128i bytes, __m256 scale, __m256 shift) {
    const __m256 v = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(bytes));
    return _mm256_add_ps(_mm256_mul_ps(v, scale), shift);
}

[[gnu::target("avx2")]] int planesAvx2(const std::uint8_t* rgb, int width, const PixelTransform& t,
                                       float* red, float* green, float* blue) {
    static const Shuffles shuffles;
    const int source[3] = {t.swapRedBlue ? 2 : 0, 1, t.swapRedBlue ? 0 : 2};
    float* planes[3] = {red, green, blue};
    __m256 scale[3], shift[3];
    for (int c = 0; c < 3; ++c) {
        scale[c] = _mm256_set1_ps(t.scale[c]);
        shift[c] = _mm256_set1_ps(t.shift[c]);
    }
    int x = 0;
    for (; x + 16 <= width; x += 16) {
        const __m128i* at = reinterpret_cast<const __m128i*>(rgb + 3 * x);
        const __m128i a = _mm_loadu_si128(at), b = _mm_loadu_si128(at + 1),
                      c = _mm_loadu_si128(at + 2);
        for (int out = 0; out < 3; ++out) {
            const __m128i* s = shuffles.of[source[out]];
            const __m128i channel =
                _mm_or_si128(_mm_or_si128(_mm_shuffle_epi8(a, s[0]), _mm_shuffle_epi8(b, s[1])),
                             _mm_shuffle_epi8(c, s[2]));
            _mm256_storeu_ps(planes[out] + x, convert8(channel, scale[out], shift[out]));
            _mm256_storeu_ps(planes[out] + x + 8,
                             convert8(_mm_srli_si128(channel, 8), scale[out], shift[out]));
        }
    }
    return x;
}

[[gnu::target("avx2")]] int interleavedAvx2(const std::uint8_t* rgb, int width,
                                            const PixelTransform& t, float* out) {
    // Lane l of the eight floats at element i is channel (i + l) % 3; i steps by 8, so the
    // pattern repeats every three steps.
    __m256 scale[3], shift[3];
    for (int k = 0; k < 3; ++k) {
        alignas(32) float s[8], h[8];
        for (int l = 0; l < 8; ++l) {
            s[l] = t.scale[(8 * k + l) % 3];
            h[l] = t.shift[(8 * k + l) % 3];
        }
        scale[k] = _mm256_load_ps(s);
        shift[k] = _mm256_load_ps(h);
    }
    const int elements = 3 * width;
    int i = 0;
    for (int k = 0; i + 8 <= elements; i += 8, k = k == 2 ? 0 : k + 1) {
        const __m128i bytes = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(rgb + i));
        _mm256_storeu_ps(out + i, convert8(bytes, scale[k], shift[k]));
    }
    return i / 3;  // whole pixels done; the portable loop redoes a partial one
}

#undef AVX2_INLINE
#endif

}  // namespace

void rowToPlanes(const std::uint8_t* rgb, int width, const PixelTransform& t, float* red,
                 float* green, float* blue, bool allowSimd) {
    int done = 0;
#ifdef CONVSCOPE_PIXELROWS_AVX2
    if (allowSimd && cpuHasAvx2())
        done = planesAvx2(rgb, width, t, red, green, blue);
#else
    (void)allowSimd;
#endif
    planesPortable(rgb, done, width, t, red, green, blue);
}

void rowToInterleaved(const std::uint8_t* rgb, int width, const PixelTransform& t, float* out,
                      bool allowSimd) {
    int done = 0;
#ifdef CONVSCOPE_PIXELROWS_AVX2
    // Red and blue swapped would need a shuffle across the loads; BGR models are rare.
    if (allowSimd && !t.swapRedBlue && cpuHasAvx2())
        done = interleavedAvx2(rgb, width, t, out);
#else
    (void)allowSimd;
#endif
    interleavedPortable(rgb, done, width, t, out);
}

}  // namespace convscope
