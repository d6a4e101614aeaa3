#include "models/relumaxpool.h"

#include "util/cpufeatures.h"

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

template <typename T>
[[gnu::always_inline]] inline void forwardScalar(const T* a, const T* b, const T* c, const T* d,
                                                 const float* bias, T* out, std::int64_t from,
                                                 std::int64_t channels) {
    for (std::int64_t k = from; k < channels; ++k) {
        const float m = pickAt(a, b, c, d, bias, k).value;
        // ReLU keeps a NaN, as torch::relu does.
        out[k] = m > 0 || m != m ? narrow<T>(m) : T(0);
    }
}

// With a bias, `biasSums` (per channel) gains each gradient that passes: the bias gradient.
template <typename T>
[[gnu::always_inline]] inline void backwardScalar(const T* a, const T* b, const T* c, const T* d,
                                                  const float* bias, const T* grad, T* ga, T* gb,
                                                  T* gc, T* gd, float* biasSums, std::int64_t from,
                                                  std::int64_t channels) {
    for (std::int64_t k = from; k < channels; ++k) {
        const Pick p = pickAt(a, b, c, d, bias, k);
        // ReLU's gradient (threshold_backward) stops where its output is <= 0, so it passes
        // at a NaN; the window's gradient goes to the corner picked.
        const bool passes = !(p.value <= 0);
        const T g = grad[k];
        if (biasSums && passes)
            biasSums[k] += valueOf(g);
        gd[k] = passes && p.takeD ? g : T(0);
        gc[k] = passes && p.takeC && !p.takeD ? g : T(0);
        gb[k] = passes && p.takeB && !p.takeC && !p.takeD ? g : T(0);
        ga[k] = passes && !p.takeB && !p.takeC && !p.takeD ? g : T(0);
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

template <typename T>
[[gnu::target("avx2")]] void forwardRowAvx2(const T* in, const float* bias, T* out,
                                            std::int64_t width, std::int64_t channels,
                                            std::int64_t rowStride) {
    const __m256 zero = _mm256_setzero_ps();
    for (std::int64_t x = 0; x < width; ++x) {
        const T* a = in + 2 * x * channels;
        const T *b = a + channels, *c = a + rowStride, *d = c + channels;
        T* o = out + x * channels;
        std::int64_t k = 0;
        for (; k + 8 <= channels; k += 8) {
            const __m256 m = pickAt8(a, b, c, d, bias, k).value;
            store8(o + k, _mm256_and_ps(m, replaces(m, zero)));
        }
        forwardScalar(a, b, c, d, bias, o, k, channels);
    }
}

template <typename T>
[[gnu::target("avx2")]] void backwardPixelsAvx2(const T* in, const float* bias, const T* gradOut,
                                                T* gradIn, float* biasSums, std::int64_t width,
                                                std::int64_t channels, std::int64_t rowStride) {
    const __m256 zero = _mm256_setzero_ps();
    for (std::int64_t x = 0; x < width; ++x) {
        const T* a = in + 2 * x * channels;
        const T *b = a + channels, *c = a + rowStride, *d = c + channels;
        const T* g = gradOut + x * channels;
        T* ga = gradIn + 2 * x * channels;
        T *gb = ga + channels, *gc = ga + rowStride, *gd = gc + channels;
        std::int64_t k = 0;
        for (; k + 8 <= channels; k += 8) {
            const Pick8 p = pickAt8(a, b, c, d, bias, k);
            const __m256 grad =
                _mm256_and_ps(load8(g + k), _mm256_cmp_ps(p.value, zero, _CMP_NLE_UQ));
            if (biasSums)
                _mm256_storeu_ps(biasSums + k, _mm256_add_ps(_mm256_loadu_ps(biasSums + k), grad));
            store8(gd + k, _mm256_and_ps(grad, p.takeD));
            const __m256 grad2 = _mm256_andnot_ps(p.takeD, grad);
            store8(gc + k, _mm256_and_ps(grad2, p.takeC));
            const __m256 grad3 = _mm256_andnot_ps(p.takeC, grad2);
            store8(gb + k, _mm256_and_ps(grad3, p.takeB));
            store8(ga + k, _mm256_andnot_ps(p.takeB, grad3));
        }
        backwardScalar(a, b, c, d, bias, g, ga, gb, gc, gd, biasSums, k, channels);
    }
}

#undef AVX2_INLINE
#endif

// One output row: `in` is input row 2*oh, `rowStride` the elements from one input row to the
// next, every pixel `channels` contiguous values (channels_last).
template <typename T>
void forwardRow(const T* in, const float* bias, T* out, std::int64_t width, std::int64_t channels,
                std::int64_t rowStride) {
#ifdef CONVSCOPE_AVX2
    if (cpuHasAvx2())
        return forwardRowAvx2(in, bias, out, width, channels, rowStride);
#endif
    for (std::int64_t x = 0; x < width; ++x) {
        const T* a = in + 2 * x * channels;
        forwardScalar(a, a + channels, a + rowStride, a + rowStride + channels, bias,
                      out + x * channels, 0, channels);
    }
}

// One output row's gradient, written into input rows 2*oh and 2*oh + 1 whole (an odd last
// column, outside every window, gets zero).
template <typename T>
void backwardRow(const T* in, const float* bias, const T* gradOut, T* gradIn, float* biasSums,
                 std::int64_t width, std::int64_t inWidth, std::int64_t channels,
                 std::int64_t rowStride) {
#ifdef CONVSCOPE_AVX2
    if (cpuHasAvx2()) {
        backwardPixelsAvx2(in, bias, gradOut, gradIn, biasSums, width, channels, rowStride);
    } else
#endif
    {
        for (std::int64_t x = 0; x < width; ++x) {
            const T* a = in + 2 * x * channels;
            T* g = gradIn + 2 * x * channels;
            backwardScalar(a, a + channels, a + rowStride, a + rowStride + channels, bias,
                           gradOut + x * channels, g, g + channels, g + rowStride,
                           g + rowStride + channels, biasSums, 0, channels);
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

// `bias`: undefined, or the float32 bias of a float32 `x` (fastPathApplies checks).
torch::Tensor forwardKernel(const torch::Tensor& x, const torch::Tensor& bias) {
    const std::int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
    const std::int64_t oh = h / 2, ow = w / 2;
    torch::Tensor y = torch::empty({n, c, oh, ow}, x.options(), torch::MemoryFormat::ChannelsLast);
    const bool bf16 = x.scalar_type() == torch::kBFloat16;
    const std::int64_t rowStride = w * c;
    const auto* in = static_cast<const char*>(x.data_ptr());
    auto* out = static_cast<char*>(y.data_ptr());
    const std::size_t size = x.element_size();
    const float* add = bias.defined() ? bias.data_ptr<float>() : nullptr;
    at::parallel_for(0, n * oh, grainRows(ow * c), [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t r = begin; r < end; ++r) {
            const std::int64_t image = r / oh, row = r % oh;
            const char* src = in + std::size_t((image * h + 2 * row) * rowStride) * size;
            char* dst = out + std::size_t(r * ow * c) * size;
            if (bf16)
                forwardRow(reinterpret_cast<const Bf16Bits*>(src), nullptr,
                           reinterpret_cast<Bf16Bits*>(dst), ow, c, rowStride);
            else
                forwardRow(reinterpret_cast<const float*>(src), add, reinterpret_cast<float*>(dst),
                           ow, c, rowStride);
        }
    });
    return y;
}

// The gradients of x and, with a bias, of the bias: each output row sums its own share, and the
// rows are added in order, so the result does not depend on the thread count.
std::pair<torch::Tensor, torch::Tensor> backwardKernel(const torch::Tensor& x,
                                                       const torch::Tensor& bias,
                                                       const torch::Tensor& gradOutput) {
    const std::int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
    const std::int64_t oh = h / 2, ow = w / 2;
    const torch::Tensor g =
        gradOutput.to(x.scalar_type()).contiguous(torch::MemoryFormat::ChannelsLast);
    torch::Tensor gradIn = torch::empty_like(x, torch::MemoryFormat::ChannelsLast);
    const bool bf16 = x.scalar_type() == torch::kBFloat16;
    const std::int64_t rowStride = w * c;
    const auto* in = static_cast<const char*>(x.data_ptr());
    const auto* gout = static_cast<const char*>(g.data_ptr());
    auto* gin = static_cast<char*>(gradIn.data_ptr());
    const std::size_t size = x.element_size();
    const float* add = bias.defined() ? bias.data_ptr<float>() : nullptr;
    std::vector<float> rowSums(add ? std::size_t(n * oh * c) : 0, 0.0f);
    at::parallel_for(0, n * oh, grainRows(2 * w * c), [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t r = begin; r < end; ++r) {
            const std::int64_t image = r / oh, row = r % oh;
            const std::size_t at = std::size_t((image * h + 2 * row) * rowStride) * size;
            const char* go = gout + std::size_t(r * ow * c) * size;
            if (bf16)
                backwardRow(reinterpret_cast<const Bf16Bits*>(in + at), nullptr,
                            reinterpret_cast<const Bf16Bits*>(go),
                            reinterpret_cast<Bf16Bits*>(gin + at), nullptr, ow, w, c, rowStride);
            else
                backwardRow(reinterpret_cast<const float*>(in + at), add,
                            reinterpret_cast<const float*>(go), reinterpret_cast<float*>(gin + at),
                            add ? rowSums.data() + r * c : nullptr, ow, w, c, rowStride);
            // An odd last row lies outside every window.
            if (h > 2 * oh && row == oh - 1)
                std::memset(gin + std::size_t(((image + 1) * h - 1) * rowStride) * size, 0,
                            std::size_t(rowStride) * size);
        }
    });
    torch::Tensor gradBias;
    if (add) {
        gradBias = torch::empty({c}, bias.options());
        float* out = gradBias.data_ptr<float>();
        for (std::int64_t k = 0; k < c; ++k) {
            double sum = 0;
            for (std::int64_t r = 0; r < n * oh; ++r)
                sum += rowSums[std::size_t(r * c + k)];
            out[k] = float(sum);
        }
    }
    return {gradIn, gradBias};
}

class ReluMaxPool2 : public torch::autograd::Function<ReluMaxPool2> {
public:
    static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x) {
        ctx->save_for_backward({x});
        return forwardKernel(x, {});
    }

    static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                   torch::autograd::variable_list grads) {
        const torch::Tensor x = ctx->get_saved_variables()[0];
        return {backwardKernel(x, {}, grads[0]).first};
    }
};

class ReluMaxPool2Bias : public torch::autograd::Function<ReluMaxPool2Bias> {
public:
    static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                                 const torch::Tensor& bias) {
        ctx->save_for_backward({x, bias});
        return forwardKernel(x, bias);
    }

    static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                   torch::autograd::variable_list grads) {
        const auto saved = ctx->get_saved_variables();
        auto [gradX, gradBias] = backwardKernel(saved[0], saved[1], grads[0]);
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
    return forwardKernel(x, {});
}

torch::Tensor reluMaxPool2(const torch::Tensor& x, const torch::Tensor& bias) {
    if (!fastPathApplies(x) || !biasFits(x, bias))
        return torch::relu(torch::max_pool2d(x + bias.view({1, -1, 1, 1}), 2));
    if (torch::GradMode::is_enabled() && (x.requires_grad() || bias.requires_grad()))
        return ReluMaxPool2Bias::apply(x, bias);
    return forwardKernel(x, bias);
}

}  // namespace convscope
