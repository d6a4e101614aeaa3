#include "models/convpool.h"

#include "models/pooledconv.h"
#include "models/relumaxpool.h"
#include "util/cpufeatures.h"
#include "util/orderedsum.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#if defined(__x86_64__) && defined(__GNUC__)
#include "models/poolpick.h"
#define CONVSCOPE_AVX512 1
#endif

namespace convscope {

namespace {

using pooledconv::Pooled;

constexpr std::int64_t kInChannels = 3;
constexpr std::int64_t kTaps = 3 * kInChannels;  // one kernel row: 3 columns x 3 channels
constexpr std::int64_t kBlock = 32;              // output channels per pass: two vectors
// Pooled rows per part of the gradient sums: fixed, so that the sums do not depend on how
// the rows are shared between threads.
constexpr std::int64_t kRowsPerPart = 4;

struct Shape {
    std::int64_t n, h, w, pooledH, pooledW, channels;
};

Shape shapeOf(const torch::Tensor& x, const torch::Tensor& weight) {
    const std::int64_t h = x.size(2), w = x.size(3);
    return {x.size(0), h, w, (h - 2) / 2, (w - 2) / 2, weight.size(0)};
}

#ifdef CONVSCOPE_AVX512
using poolpick::pickAndStore;

#define AVX512_INLINE [[gnu::always_inline, gnu::target("avx512f")]] inline

// The packed weights: [kernel row][column x channel][output channel], so that a kernel row's
// taps are 9 consecutive floats of a channels_last image row.
torch::Tensor packWeights(const torch::Tensor& weight) {
    return weight.permute({2, 3, 1, 0}).contiguous();
}

// P pooled outputs side by side, 32 channels: the 2 x 2P convolution outputs under them are
// summed in registers. `in` is the input at the first window's top-left corner.
template <int P>
AVX512_INLINE void forwardWindows(const float* in, std::int64_t rowStride, const float* packed,
                                  std::int64_t channels, const float* bias, float* out,
                                  std::uint8_t* codes) {
    __m512 sum[2][2 * P][2];
    for (auto& row : sum)
        for (auto& column : row)
            column[0] = column[1] = _mm512_setzero_ps();
    for (int kh = 0; kh < 3; ++kh) {
        for (int t = 0; t < kTaps; ++t) {
            const float* w = packed + (kh * kTaps + t) * channels;
            const __m512 w0 = _mm512_loadu_ps(w), w1 = _mm512_loadu_ps(w + 16);
            for (int dy = 0; dy < 2; ++dy) {
                const float* r = in + (dy + kh) * rowStride + t;
                for (int column = 0; column < 2 * P; ++column) {
                    const __m512 v = _mm512_set1_ps(r[column * kInChannels]);
                    sum[dy][column][0] = _mm512_fmadd_ps(v, w0, sum[dy][column][0]);
                    sum[dy][column][1] = _mm512_fmadd_ps(v, w1, sum[dy][column][1]);
                }
            }
        }
    }
    for (int p = 0; p < P; ++p) {
        for (int half = 0; half < 2; ++half) {
            const __m512 add = _mm512_loadu_ps(bias + 16 * half);
            pickAndStore(_mm512_add_ps(sum[0][2 * p][half], add),
                         _mm512_add_ps(sum[0][2 * p + 1][half], add),
                         _mm512_add_ps(sum[1][2 * p][half], add),
                         _mm512_add_ps(sum[1][2 * p + 1][half], add),
                         out + p * channels + 16 * half,
                         codes ? codes + p * channels + 16 * half : nullptr);
        }
    }
}

// One pooled row, one block of 32 output channels (`packed`, `bias`, `out` and `codes` start
// at the block).
[[gnu::target("avx512f")]] void forwardRow(const float* in, std::int64_t rowStride,
                                           std::int64_t pooledW, const float* packed,
                                           std::int64_t channels, const float* bias, float* out,
                                           std::uint8_t* codes) {
    std::int64_t x = 0;
    for (; x + 2 <= pooledW; x += 2)
        forwardWindows<2>(in + 2 * x * kInChannels, rowStride, packed, channels, bias,
                          out + x * channels, codes ? codes + x * channels : nullptr);
    for (; x < pooledW; ++x)
        forwardWindows<1>(in + 2 * x * kInChannels, rowStride, packed, channels, bias,
                          out + x * channels, codes ? codes + x * channels : nullptr);
}

// The weight and bias gradient sums of some pooled rows, one block of 32 output channels, one
// kernel row `kh` at a time so that its 9 x 32 sums stay in registers: every corner adds its
// share of the pooled gradient (zero in the lanes whose code names another corner, or none)
// times the input under the kernel. `sums` is [kernel row][tap][channel] for the whole layer.
[[gnu::target("avx512f")]] void gradientRows(const float* images, const Shape& s,
                                             const float* gradOut, const std::uint8_t* codes,
                                             std::int64_t firstRow, std::int64_t endRow,
                                             std::int64_t block, float* sums, float* biasSums) {
    const std::int64_t channels = s.channels, rowStride = s.w * kInChannels;
    for (int kh = 0; kh < 3; ++kh) {
        __m512 acc[kTaps][2];
        for (auto& tap : acc)
            tap[0] = tap[1] = _mm512_setzero_ps();
        __m512 biasAcc[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()};
        for (std::int64_t r = firstRow; r < endRow; ++r) {
            const std::int64_t image = r / s.pooledH, py = r % s.pooledH;
            const float* top = images + (image * s.h + 2 * py + kh) * rowStride;
            for (std::int64_t px = 0; px < s.pooledW; ++px) {
                const std::int64_t at = (r * s.pooledW + px) * channels + block;
                __m512 grad[2];
                __m512i code[2];
                for (int half = 0; half < 2; ++half) {
                    grad[half] = _mm512_loadu_ps(gradOut + at + 16 * half);
                    code[half] = poolpick::loadCodes(codes + at + 16 * half);
                    if (kh == 0)
                        biasAcc[half] = _mm512_add_ps(
                            biasAcc[half],
                            _mm512_maskz_mov_ps(_mm512_test_epi32_mask(code[half], code[half]),
                                                grad[half]));
                }
                for (int corner = 0; corner < 4; ++corner) {
                    const __m512 g0 = poolpick::gradientAt(grad[0], code[0], corner + 1);
                    const __m512 g1 = poolpick::gradientAt(grad[1], code[1], corner + 1);
                    const float* in =
                        top + (corner / 2) * rowStride + (2 * px + corner % 2) * kInChannels;
                    for (int t = 0; t < kTaps; ++t) {
                        const __m512 v = _mm512_set1_ps(in[t]);
                        acc[t][0] = _mm512_fmadd_ps(v, g0, acc[t][0]);
                        acc[t][1] = _mm512_fmadd_ps(v, g1, acc[t][1]);
                    }
                }
            }
        }
        for (int t = 0; t < kTaps; ++t) {
            float* to = sums + (kh * kTaps + t) * channels + block;
            _mm512_storeu_ps(to, acc[t][0]);
            _mm512_storeu_ps(to + 16, acc[t][1]);
        }
        if (kh == 0) {
            _mm512_storeu_ps(biasSums + block, biasAcc[0]);
            _mm512_storeu_ps(biasSums + block + 16, biasAcc[1]);
        }
    }
}

#undef AVX512_INLINE
#endif

Pooled forwardKernel(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                     bool withCodes) {
    const Shape s = shapeOf(x, weight);
    Pooled pooled = pooledconv::emptyPooled(x, s.n, s.channels, s.pooledH, s.pooledW, withCodes);
#ifdef CONVSCOPE_AVX512
    const torch::Tensor packed = packWeights(weight);
    const torch::Tensor b = bias.contiguous();
    const float* in = x.data_ptr<float>();
    const float* w = packed.data_ptr<float>();
    const float* add = b.data_ptr<float>();
    float* out = pooled.output.data_ptr<float>();
    std::uint8_t* codes = withCodes ? pooled.codes.data_ptr<std::uint8_t>() : nullptr;
    const std::int64_t rowStride = s.w * kInChannels;
    at::parallel_for(0, s.n * s.pooledH, 1, [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t r = begin; r < end; ++r) {
            const std::int64_t image = r / s.pooledH, py = r % s.pooledH;
            const float* row = in + (image * s.h + 2 * py) * rowStride;
            const std::int64_t at = r * s.pooledW * s.channels;
            for (std::int64_t block = 0; block < s.channels; block += kBlock)
                forwardRow(row, rowStride, s.pooledW, w + block, s.channels, add + block,
                           out + at + block, codes ? codes + at + block : nullptr);
        }
    });
#endif
    return pooled;
}

// The weight gradient (the weight's layout) and the bias gradient. Each part of kRowsPerPart
// pooled rows sums on its own; the parts are added in order, in double.
std::pair<torch::Tensor, torch::Tensor> backwardKernel(const torch::Tensor& x,
                                                       const torch::Tensor& codes,
                                                       const torch::Tensor& gradOutput,
                                                       const torch::Tensor& weight) {
    const Shape s = shapeOf(x, weight);
    const torch::Tensor g =
        gradOutput.to(torch::kFloat32).contiguous(torch::MemoryFormat::ChannelsLast);
    const std::int64_t rows = s.n * s.pooledH;
    const std::int64_t parts = (rows + kRowsPerPart - 1) / kRowsPerPart;
    const std::int64_t weightValues = 3 * kTaps * s.channels;
    const std::int64_t partValues = weightValues + s.channels;
    std::vector<float> partSums(std::size_t(parts * partValues), 0.0f);
#ifdef CONVSCOPE_AVX512
    const float* images = x.data_ptr<float>();
    const float* gradOut = g.data_ptr<float>();
    const std::uint8_t* code = codes.data_ptr<std::uint8_t>();
    at::parallel_for(0, parts, 1, [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t part = begin; part < end; ++part) {
            float* sums = partSums.data() + part * partValues;
            const std::int64_t first = part * kRowsPerPart;
            const std::int64_t last = std::min(rows, first + kRowsPerPart);
            for (std::int64_t block = 0; block < s.channels; block += kBlock)
                gradientRows(images, s, gradOut, code, first, last, block, sums,
                             sums + weightValues);
        }
    });
#endif
    const std::vector<float> total = sumRowsInOrder(partSums.data(), parts, partValues);
    // [kernel row][column][input channel][output channel] -> the weight's [out][in][row][col].
    torch::Tensor packedGrad = torch::empty({3, 3, kInChannels, s.channels}, weight.options());
    std::copy(total.begin(), total.begin() + weightValues, packedGrad.data_ptr<float>());
    torch::Tensor gradBias = torch::empty({s.channels}, weight.options());
    std::copy(total.begin() + weightValues, total.end(), gradBias.data_ptr<float>());
    return {packedGrad.permute({3, 2, 0, 1}).contiguous(), gradBias};
}

// The first layer: no input gradient (the images need none).
struct Kernels {
    static Pooled forward(const torch::Tensor& x, const torch::Tensor& weight,
                          const torch::Tensor& bias, bool withCodes) {
        return forwardKernel(x, weight, bias, withCodes);
    }

    static torch::autograd::variable_list backward(torch::autograd::AutogradContext*,
                                                   const torch::Tensor& x,
                                                   const torch::Tensor& weight,
                                                   const torch::Tensor& codes,
                                                   const torch::Tensor& gradOutput) {
        auto [gradWeight, gradBias] = backwardKernel(x, codes, gradOutput, weight);
        return {torch::Tensor(), gradWeight, gradBias};
    }
};

using ConvReluMaxPool2 = pooledconv::Function<Kernels>;

}  // namespace

bool convReluMaxPool2IsFused(const torch::Tensor& x, const torch::Tensor& weight,
                             const torch::Tensor& bias) {
#ifdef CONVSCOPE_AVX512
    return cpuHasAvx512f() && pooledconv::layerFits(x, weight, bias, kInChannels, kBlock) &&
           !(torch::GradMode::is_enabled() && x.requires_grad());
#else
    (void)x, (void)weight, (void)bias;
    return false;
#endif
}

torch::Tensor convReluMaxPool2(const torch::Tensor& x, const torch::Tensor& weight,
                               const torch::Tensor& bias) {
    if (!convReluMaxPool2IsFused(x, weight, bias))
        return reluMaxPool2(torch::conv2d(x, weight), bias);
    if (torch::GradMode::is_enabled() && (weight.requires_grad() || bias.requires_grad()))
        return ConvReluMaxPool2::apply(x, weight, bias);
    return forwardKernel(x, weight, bias, false).output;
}

}  // namespace convscope
