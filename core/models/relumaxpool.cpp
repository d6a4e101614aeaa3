#include "models/relumaxpool.h"

#include "util/cpufeatures.h"
#include "util/orderedsum.h"

#include <ATen/Parallel.h>

#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

namespace convscope {

namespace {

// bfloat16 is handled as its bits: a window's result is one of its inputs, so no rounding
// happens and the bits can be copied; only comparisons need the float value.
using Bf16Bits = std::uint16_t;

[[gnu::always_inline]] inline float valueOf(float v) {
    return v;
}

[[gnu::always_inline]] inline float valueOf(Bf16Bits bits) {
    const std::uint32_t widened = std::uint32_t(bits) << 16;
    float v;
    std::memcpy(&v, &widened, sizeof v);
    return v;
}

// A window's maximum as ATen's max_pool2d picks it: the first largest in row order, a NaN
// replacing whatever came before it. takeB, takeC and takeD say which later corner replaced
// the maximum so far.
struct Pick {
    float value;
    bool takeB, takeC, takeD;
};

[[gnu::always_inline]] inline Pick pickMaximum(float a, float b, float c, float d) {
    Pick p;
    p.takeB = b > a || b != b;
    float m = p.takeB ? b : a;
    p.takeC = c > m || c != c;
    m = p.takeC ? c : m;
    p.takeD = d > m || d != d;
    p.value = p.takeD ? d : m;
    return p;
}

template <typename T>
[[gnu::always_inline]] inline T narrow(float v) {
    if constexpr (sizeof(T) == sizeof(float)) {
        return v;
    } else {
        std::uint32_t w;
        std::memcpy(&w, &v, sizeof w);
        return T(w >> 16);
    }
}

// One output pixel's channels from `from` on: a, b (row 2*oh), c, d (row 2*oh + 1) are the
// window's corners.
// `bias` (float tensors only; null for none) is added to each corner first, as a convolution's
// bias would have been.
template <typename T>
[[gnu::always_inline]] inline Pick pickAt(const T* a, const T* b, const T* c, const T* d,
                                          const float* bias, std::int64_t k) {
    if (!bias)
        return pickMaximum(valueOf(a[k]), valueOf(b[k]), valueOf(c[k]), valueOf(d[k]));
    return pickMaximum(valueOf(a[k]) + bias[k], valueOf(b[k]) + bias[k], valueOf(c[k]) + bias[k],
                       valueOf(d[k]) + bias[k]);
}

// Where each output's gradient goes, one byte per output value, written by the forward pass
// for the backward one: kStops where ReLU stops it, else the corner picked (a, b, c, d as 1-4).
constexpr std::uint8_t kStops = 0;

// ReLU's gradient (threshold_backward) stops where its output is <= 0, so it passes at a NaN;
// ReLU keeps a NaN, as torch::relu does. The window's gradient goes to the corner picked.
[[gnu::always_inline]] inline std::uint8_t codeOf(const Pick& p) {
    if (p.value <= 0)
        return kStops;
    return p.takeD ? 4 : p.takeC ? 3 : p.takeB ? 2 : 1;
}

// `codes` is null when no backward pass will follow.
template <typename T>
[[gnu::always_inline]] inline void forwardScalar(const T* a, const T* b, const T* c, const T* d,
                                                 const float* bias, T* out, std::uint8_t* codes,
                                                 std::int64_t from, std::int64_t channels) {
    for (std::int64_t k = from; k < channels; ++k) {
        const Pick p = pickAt(a, b, c, d, bias, k);
        const std::uint8_t code = codeOf(p);
        out[k] = code == kStops ? T(0) : narrow<T>(p.value);
        if (codes)
            codes[k] = code;
    }
}

// With a bias, `biasSums` (per channel) gains each gradient that passes: the bias gradient.
template <typename T>
[[gnu::always_inline]] inline void backwardScalar(const std::uint8_t* codes, const T* grad, T* ga,
                                                  T* gb, T* gc, T* gd, float* biasSums,
                                                  std::int64_t from, std::int64_t channels) {
    for (std::int64_t k = from; k < channels; ++k) {
        const std::uint8_t code = codes[k];
        const T g = grad[k];
        if (biasSums && code != kStops)
            biasSums[k] += valueOf(g);
        ga[k] = code == 1 ? g : T(0);
        gb[k] = code == 2 ? g : T(0);
        gc[k] = code == 3 ? g : T(0);
        gd[k] = code == 4 ? g : T(0);
    }
}

#if defined(__x86_64__) && defined(__GNUC__)
#define CONVSCOPE_AVX2 1
// The same, eight channels at a time with AVX2, chosen at run time: the build targets
// baseline x86-64. bfloat16 lanes are widened to float by a shift and narrowed back by one;
// every value written is an input, a gradient or zero, so the narrowing is exact and both
// paths give the same bits.
#define AVX2_INLINE [[gnu::always_inline, gnu::target("avx2")]] inline

AVX2_INLINE __m256 load8(const float* p) {
    return _mm256_loadu_ps(p);
}

AVX2_INLINE __m256 load8(const Bf16Bits* p) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

AVX2_INLINE void store8(float* p, __m256 v) {
    _mm256_storeu_ps(p, v);
}

AVX2_INLINE void store8(Bf16Bits* p, __m256 v) {
    const __m256i w = _mm256_srli_epi32(_mm256_castps_si256(v), 16);
    const __m256i packed = _mm256_permute4x64_epi64(_mm256_packus_epi32(w, w), 0b1000);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm256_castsi256_si128(packed));
}

// Lanes where v > m, or v is NaN.
AVX2_INLINE __m256 replaces(__m256 v, __m256 m) {
    return _mm256_or_ps(_mm256_cmp_ps(v, m, _CMP_GT_OQ), _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
}

struct Pick8 {
    __m256 value, takeB, takeC, takeD;
};

AVX2_INLINE Pick8 pickMaximum8(__m256 a, __m256 b, __m256 c, __m256 d) {
    Pick8 p;
    p.takeB = replaces(b, a);
    __m256 m = _mm256_blendv_ps(a, b, p.takeB);
    p.takeC = replaces(c, m);
    m = _mm256_blendv_ps(m, c, p.takeC);
    p.takeD = replaces(d, m);
    p.value = _mm256_blendv_ps(m, d, p.takeD);
    return p;
}

template <typename T>
AVX2_INLINE Pick8 pickAt8(const T* a, const T* b, const T* c, const T* d, const float* bias,
                          std::int64_t k) {
    if (!bias)
        return pickMaximum8(load8(a + k), load8(b + k), load8(c + k), load8(d + k));
    const __m256 add = _mm256_loadu_ps(bias + k);
    return pickMaximum8(_mm256_add_ps(load8(a + k), add), _mm256_add_ps(load8(b + k), add),
                        _mm256_add_ps(load8(c + k), add), _mm256_add_ps(load8(d + k), add));
}

// Eight lanes of 0-4 as bytes.
AVX2_INLINE void storeCodes8(std::uint8_t* p, __m256i codes) {
    const __m128i words =
        _mm_packus_epi32(_mm256_castsi256_si128(codes), _mm256_extracti128_si256(codes, 1));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(p), _mm_packus_epi16(words, words));
}

// Four times eight lanes of 0-4 as 32 bytes in order.
AVX2_INLINE void storeCodes32(std::uint8_t* p, __m256i c0, __m256i c1, __m256i c2, __m256i c3) {
    // Per 128-bit half: c0's lanes 0-3, c1's, c2's, c3's; then c0's lanes 4-7 and so on.
    const __m256i bytes =
        _mm256_packus_epi16(_mm256_packs_epi32(c0, c1), _mm256_packs_epi32(c2, c3));
    _mm256_storeu_si256(
        reinterpret_cast<__m256i*>(p),
        _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
}

struct Forward8 {
    __m256 output;
    __m256i code;
};

// One vector of output and its codes: the corner picked (the last of b, c, d to replace the
// maximum so far wins, so the largest of their numbers), zero where ReLU stops.
template <typename T>
AVX2_INLINE Forward8 forward8(const T* a, const T* b, const T* c, const T* d, const float* bias,
                              std::int64_t k) {
    const Pick8 p = pickAt8(a, b, c, d, bias, k);
    const __m256 passes = replaces(p.value, _mm256_setzero_ps());
    __m256i corner = _mm256_set1_epi32(1);
    corner = _mm256_max_epi32(corner,
                              _mm256_and_si256(_mm256_castps_si256(p.takeB), _mm256_set1_epi32(2)));
    corner = _mm256_max_epi32(corner,
                              _mm256_and_si256(_mm256_castps_si256(p.takeC), _mm256_set1_epi32(3)));
    corner = _mm256_max_epi32(corner,
                              _mm256_and_si256(_mm256_castps_si256(p.takeD), _mm256_set1_epi32(4)));
    return {_mm256_and_ps(p.value, passes), _mm256_and_si256(corner, _mm256_castps_si256(passes))};
}

template <typename T>
[[gnu::target("avx2")]] void forwardRowAvx2(const T* in, const float* bias, T* out,
                                            std::uint8_t* codes, std::int64_t width,
                                            std::int64_t channels, std::int64_t rowStride) {
    for (std::int64_t x = 0; x < width; ++x) {
        const T* a = in + 2 * x * channels;
        const T *b = a + channels, *c = a + rowStride, *d = c + channels;
        T* o = out + x * channels;
        std::uint8_t* code = codes ? codes + x * channels : nullptr;
        std::int64_t k = 0;
        if (code) {
            for (; k + 32 <= channels; k += 32) {
                Forward8 f[4];
                for (int v = 0; v < 4; ++v) {
                    f[v] = forward8(a, b, c, d, bias, k + 8 * v);
                    store8(o + k + 8 * v, f[v].output);
                }
                storeCodes32(code + k, f[0].code, f[1].code, f[2].code, f[3].code);
            }
        }
        for (; k + 8 <= channels; k += 8) {
            const Forward8 f = forward8(a, b, c, d, bias, k);
            store8(o + k, f.output);
            if (code)
                storeCodes8(code + k, f.code);
        }
        forwardScalar(a, b, c, d, bias, o, code, k, channels);
    }
}

// The lanes of `grad` whose code is `which`, zero elsewhere.
AVX2_INLINE __m256 gradientTo(__m256 grad, __m256i codes, __m256i which) {
    return _mm256_and_ps(grad, _mm256_castsi256_ps(_mm256_cmpeq_epi32(codes, which)));
}

template <typename T>
[[gnu::target("avx2")]] void backwardPixelsAvx2(const std::uint8_t* codes, const T* gradOut,
                                                T* gradIn, float* biasSums, std::int64_t width,
                                                std::int64_t channels, std::int64_t rowStride) {
    const __m256i stops = _mm256_setzero_si256();
    const __m256i cornerA = _mm256_set1_epi32(1), cornerB = _mm256_set1_epi32(2);
    const __m256i cornerC = _mm256_set1_epi32(3), cornerD = _mm256_set1_epi32(4);
    for (std::int64_t x = 0; x < width; ++x) {
        const std::uint8_t* code = codes + x * channels;
        const T* g = gradOut + x * channels;
        T* ga = gradIn + 2 * x * channels;
        T *gb = ga + channels, *gc = ga + rowStride, *gd = gc + channels;
        std::int64_t k = 0;
        for (; k + 8 <= channels; k += 8) {
            const __m256i corner =
                _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(code + k)));
            const __m256 grad = load8(g + k);
            if (biasSums) {
                const __m256 passed =
                    _mm256_andnot_ps(_mm256_castsi256_ps(_mm256_cmpeq_epi32(corner, stops)), grad);
                _mm256_storeu_ps(biasSums + k,
                                 _mm256_add_ps(_mm256_loadu_ps(biasSums + k), passed));
            }
            store8(ga + k, gradientTo(grad, corner, cornerA));
            store8(gb + k, gradientTo(grad, corner, cornerB));
            store8(gc + k, gradientTo(grad, corner, cornerC));
            store8(gd + k, gradientTo(grad, corner, cornerD));
        }
        backwardScalar(code, g, ga, gb, gc, gd, biasSums, k, channels);
    }
}

#undef AVX2_INLINE
#endif

// One output row: `in` is input row 2*oh, `rowStride` the elements from one input row to the
// next, every pixel `channels` contiguous values (channels_last). `codes` (null for none) is
// the row's byte per output value.
template <typename T>
void forwardRow(const T* in, const float* bias, T* out, std::uint8_t* codes, std::int64_t width,
                std::int64_t channels, std::int64_t rowStride) {
#ifdef CONVSCOPE_AVX2
    if (cpuHasAvx2())
        return forwardRowAvx2(in, bias, out, codes, width, channels, rowStride);
#endif
    for (std::int64_t x = 0; x < width; ++x) {
        const T* a = in + 2 * x * channels;
        forwardScalar(a, a + channels, a + rowStride, a + rowStride + channels, bias,
                      out + x * channels, codes ? codes + x * channels : nullptr, 0, channels);
    }
}

// One output row's gradient, written into input rows 2*oh and 2*oh + 1 whole (an odd last
// column, outside every window, gets zero).
template <typename T>
void backwardRow(const std::uint8_t* codes, const T* gradOut, T* gradIn, float* biasSums,
                 std::int64_t width, std::int64_t inWidth, std::int64_t channels,
                 std::int64_t rowStride) {
#ifdef CONVSCOPE_AVX2
    if (cpuHasAvx2()) {
        backwardPixelsAvx2(codes, gradOut, gradIn, biasSums, width, channels, rowStride);
    } else
#endif
    {
        for (std::int64_t x = 0; x < width; ++x) {
            T* g = gradIn + 2 * x * channels;
            backwardScalar(codes + x * channels, gradOut + x * channels, g, g + channels,
                           g + rowStride, g + rowStride + channels, biasSums, 0, channels);
        }
    }
    if (inWidth > 2 * width) {
        T* last = gradIn + 2 * width * channels;
        std::memset(last, 0, std::size_t(channels) * sizeof(T));
        std::memset(last + rowStride, 0, std::size_t(channels) * sizeof(T));
    }
}

bool fastPathApplies(const torch::Tensor& x) {
    return x.device().is_cpu() && x.dim() == 4 && x.layout() == torch::kStrided &&
           (x.scalar_type() == torch::kFloat32 || x.scalar_type() == torch::kBFloat16) &&
           x.size(2) >= 2 && x.size(3) >= 2 && x.size(1) > 0 &&
           x.is_contiguous(torch::MemoryFormat::ChannelsLast);
}

// Rows of output per task: enough work that a thread's start is paid for.
std::int64_t grainRows(std::int64_t valuesPerRow) {
    return std::max<std::int64_t>(1, 32768 / std::max<std::int64_t>(1, valuesPerRow));
}

struct Pooled {
    torch::Tensor output;
    torch::Tensor codes;  // kByte, the output's shape and layout; undefined when not asked for
};

// `bias`: undefined, or the float32 bias of a float32 `x` (fastPathApplies checks).
Pooled forwardKernel(const torch::Tensor& x, const torch::Tensor& bias, bool withCodes) {
    const std::int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
    const std::int64_t oh = h / 2, ow = w / 2;
    Pooled pooled;
    pooled.output = torch::empty({n, c, oh, ow}, x.options(), torch::MemoryFormat::ChannelsLast);
    if (withCodes)
        pooled.codes = torch::empty({n, c, oh, ow}, x.options().dtype(torch::kByte),
                                    torch::MemoryFormat::ChannelsLast);
    const bool bf16 = x.scalar_type() == torch::kBFloat16;
    const std::int64_t rowStride = w * c;
    const auto* in = static_cast<const char*>(x.data_ptr());
    auto* out = static_cast<char*>(pooled.output.data_ptr());
    std::uint8_t* codes = withCodes ? pooled.codes.data_ptr<std::uint8_t>() : nullptr;
    const std::size_t size = x.element_size();
    const float* add = bias.defined() ? bias.data_ptr<float>() : nullptr;
    at::parallel_for(0, n * oh, grainRows(ow * c), [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t r = begin; r < end; ++r) {
            const std::int64_t image = r / oh, row = r % oh;
            const char* src = in + std::size_t((image * h + 2 * row) * rowStride) * size;
            char* dst = out + std::size_t(r * ow * c) * size;
            std::uint8_t* rowCodes = codes ? codes + r * ow * c : nullptr;
            if (bf16)
                forwardRow(reinterpret_cast<const Bf16Bits*>(src), nullptr,
                           reinterpret_cast<Bf16Bits*>(dst), rowCodes, ow, c, rowStride);
            else
                forwardRow(reinterpret_cast<const float*>(src), add, reinterpret_cast<float*>(dst),
                           rowCodes, ow, c, rowStride);
        }
    });
    return pooled;
}

// What the backward pass needs of the input: its shape and type, not its values.
struct InputShape {
    std::int64_t n, c, h, w;
    torch::ScalarType type;
};

// The gradients of x and, `withBias`, of the (float32) bias: each output row sums its own
// share, and the rows are added in order, so the result does not depend on the thread count.
std::pair<torch::Tensor, torch::Tensor> backwardKernel(const InputShape& x,
                                                       const torch::Tensor& codes,
                                                       const torch::Tensor& gradOutput,
                                                       bool withBias) {
    const std::int64_t n = x.n, c = x.c, h = x.h, w = x.w;
    const std::int64_t oh = h / 2, ow = w / 2;
    const torch::Tensor g = gradOutput.to(x.type).contiguous(torch::MemoryFormat::ChannelsLast);
    torch::Tensor gradIn =
        torch::empty({n, c, h, w}, g.options(), torch::MemoryFormat::ChannelsLast);
    const bool bf16 = x.type == torch::kBFloat16;
    const std::int64_t rowStride = w * c;
    const std::uint8_t* code = codes.data_ptr<std::uint8_t>();
    const auto* gout = static_cast<const char*>(g.data_ptr());
    auto* gin = static_cast<char*>(gradIn.data_ptr());
    const std::size_t size = gradIn.element_size();
    std::vector<float> rowSums(withBias ? std::size_t(n * oh * c) : 0, 0.0f);
    at::parallel_for(0, n * oh, grainRows(2 * w * c), [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t r = begin; r < end; ++r) {
            const std::int64_t image = r / oh, row = r % oh;
            const std::size_t at = std::size_t((image * h + 2 * row) * rowStride) * size;
            const std::uint8_t* rowCodes = code + r * ow * c;
            const char* go = gout + std::size_t(r * ow * c) * size;
            if (bf16)
                backwardRow(rowCodes, reinterpret_cast<const Bf16Bits*>(go),
                            reinterpret_cast<Bf16Bits*>(gin + at), nullptr, ow, w, c, rowStride);
            else
                backwardRow(rowCodes, reinterpret_cast<const float*>(go),
                            reinterpret_cast<float*>(gin + at),
                            withBias ? rowSums.data() + r * c : nullptr, ow, w, c, rowStride);
            // An odd last row lies outside every window.
            if (h > 2 * oh && row == oh - 1)
                std::memset(gin + std::size_t(((image + 1) * h - 1) * rowStride) * size, 0,
                            std::size_t(rowStride) * size);
        }
    });
    torch::Tensor gradBias;
    if (withBias) {
        const std::vector<float> sums = sumRowsInOrder(rowSums.data(), n * oh, c);
        gradBias = torch::tensor(sums, torch::kFloat32);
    }
    return {gradIn, gradBias};
}

// The input is not kept for the backward pass: the codes, a quarter of the output's bytes in
// float32, say where each gradient goes, so a convolution's whole output can be freed as soon
// as it is pooled.
void saveForBackward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                     const torch::Tensor& codes) {
    ctx->saved_data["codes"] = codes;
    ctx->saved_data["shape"] =
        std::vector<std::int64_t>{x.size(0), x.size(1), x.size(2), x.size(3)};
    ctx->saved_data["type"] = std::int64_t(x.scalar_type());
}

InputShape savedShape(torch::autograd::AutogradContext* ctx) {
    const std::vector<std::int64_t> s = ctx->saved_data["shape"].toIntVector();
    return {s[0], s[1], s[2], s[3], torch::ScalarType(ctx->saved_data["type"].toInt())};
}

class ReluMaxPool2 : public torch::autograd::Function<ReluMaxPool2> {
public:
    static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x) {
        Pooled pooled = forwardKernel(x, {}, true);
        saveForBackward(ctx, x, pooled.codes);
        return pooled.output;
    }

    static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                   torch::autograd::variable_list grads) {
        return {
            backwardKernel(savedShape(ctx), ctx->saved_data["codes"].toTensor(), grads[0], false)
                .first};
    }
};

class ReluMaxPool2Bias : public torch::autograd::Function<ReluMaxPool2Bias> {
public:
    static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                                 const torch::Tensor& bias) {
        Pooled pooled = forwardKernel(x, bias, true);
        saveForBackward(ctx, x, pooled.codes);
        return pooled.output;
    }

    static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                   torch::autograd::variable_list grads) {
        auto [gradX, gradBias] =
            backwardKernel(savedShape(ctx), ctx->saved_data["codes"].toTensor(), grads[0], true);
        return {gradX, gradBias};
    }
};

bool biasFits(const torch::Tensor& x, const torch::Tensor& bias) {
    return x.scalar_type() == torch::kFloat32 && bias.scalar_type() == torch::kFloat32 &&
           bias.device().is_cpu() && bias.dim() == 1 && bias.size(0) == x.size(1) &&
           bias.is_contiguous();
}

}  // namespace

torch::Tensor reluMaxPool2(const torch::Tensor& x) {
    if (!fastPathApplies(x))
        return torch::relu(torch::max_pool2d(x, 2));
    if (torch::GradMode::is_enabled() && x.requires_grad())
        return ReluMaxPool2::apply(x);
    return forwardKernel(x, {}, false).output;
}

torch::Tensor reluMaxPool2(const torch::Tensor& x, const torch::Tensor& bias) {
    if (!fastPathApplies(x) || !biasFits(x, bias))
        return torch::relu(torch::max_pool2d(x + bias.view({1, -1, 1, 1}), 2));
    if (torch::GradMode::is_enabled() && (x.requires_grad() || bias.requires_grad()))
        return ReluMaxPool2Bias::apply(x, bias);
    return forwardKernel(x, bias, false).output;
}

}  // namespace convscope
