#pragma once

// The 2x2 window step shared by the kernels that compute a convolution's outputs themselves
// and pool them on the spot (convpool, winogradpool): AVX-512, float32, 16 channels at a
// time. Include only where <immintrin.h> and GCC's target attribute are available.

#include <immintrin.h>

#include <cstdint>

namespace convscope::poolpick {

#define CONVSCOPE_POOLPICK_INLINE [[gnu::always_inline, gnu::target("avx512f")]] inline

/// Lanes where v > m, or v is NaN: where max_pool2d's running maximum moves to v.
CONVSCOPE_POOLPICK_INLINE __mmask16 replaces(__m512 v, __m512 m) {
    return _mm512_cmp_ps_mask(v, m, _CMP_GT_OQ) | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
}

/// One window's corners a b (upper row) c d (lower row), bias added: stores the output (ReLU
/// of the first largest, a NaN taking the window) and, `codes` not null, the byte codes
/// reluMaxPool2 uses (1-4 for the corner that gets the gradient, 0 where ReLU stops it).
CONVSCOPE_POOLPICK_INLINE void pickAndStore(__m512 a, __m512 b, __m512 c, __m512 d, float* out,
                                            std::uint8_t* codes) {
    const __mmask16 takeB = replaces(b, a);
    __m512 m = _mm512_mask_mov_ps(a, takeB, b);
    const __mmask16 takeC = replaces(c, m);
    m = _mm512_mask_mov_ps(m, takeC, c);
    const __mmask16 takeD = replaces(d, m);
    m = _mm512_mask_mov_ps(m, takeD, d);
    const __mmask16 passes = replaces(m, _mm512_setzero_ps());
    _mm512_storeu_ps(out, _mm512_maskz_mov_ps(passes, m));
    if (codes) {
        __m512i code = _mm512_set1_epi32(1);
        code = _mm512_mask_mov_epi32(code, takeB, _mm512_set1_epi32(2));
        code = _mm512_mask_mov_epi32(code, takeC, _mm512_set1_epi32(3));
        code = _mm512_mask_mov_epi32(code, takeD, _mm512_set1_epi32(4));
        // The maskz forms: GCC 12 warns about the plain ones' undefined source operand.
        _mm_storeu_si128(reinterpret_cast<__m128i*>(codes),
                         _mm512_maskz_cvtepi32_epi8(0xffff, _mm512_maskz_mov_epi32(passes, code)));
    }
}

/// The 16 lanes of a pooled gradient that go to corner `which` (1-4) by their byte codes,
/// zero in the others.
CONVSCOPE_POOLPICK_INLINE __m512 gradientAt(__m512 grad, __m512i codes, int which) {
    return _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(codes, _mm512_set1_epi32(which)), grad);
}

/// 16 byte codes widened to 32-bit lanes.
CONVSCOPE_POOLPICK_INLINE __m512i loadCodes(const std::uint8_t* codes) {
    return _mm512_maskz_cvtepu8_epi32(0xffff,
                                      _mm_loadu_si128(reinterpret_cast<const __m128i*>(codes)));
}

#undef CONVSCOPE_POOLPICK_INLINE

}  // namespace convscope::poolpick
