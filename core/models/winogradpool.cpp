#include "models/winogradpool.h"

#include "models/pooledconv.h"
#include "models/relumaxpool.h"
#include "util/cpufeatures.h"
#include "util/orderedsum.h"

#include <ATen/Parallel.h>
#include <ATen/autocast_mode.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <utility>
#include <vector>

#if defined(__x86_64__) && defined(__GNUC__)
#include "models/poolpick.h"
#define CONVSCOPE_AVX512 1
#endif

// Winograd's F(2x2, 3x3) (Lavin and Gray, "Fast Algorithms for Convolutional Neural
// Networks", 2016): a 2x2 block of a 3x3 convolution's outputs is
//     Y = A^T [(G g G^T) . (B^T d B)] A
// for the 4x4 input block d under it and each 3x3 kernel g, with
//     B^T = | 1  0 -1  0 |    G = | 1    0    0   |    A^T = | 1  1  1  0 |
//           | 0  1  1  0 |        | 1/2  1/2  1/2 |          | 0  1 -1 -1 |
//           | 0 -1  1  0 |        | 1/2 -1/2  1/2 |
//           | 0  1  0 -1 |        | 0    0    1   |
// Summed over the input channels, the 16 products of each tile position e become 16 small
// matrix products: M[e] = V[e] (tiles x in) times U[e] (in x out).

namespace convscope {

namespace {

using pooledconv::Pooled;

constexpr std::int64_t kChunk = 16;     // channels per vector
constexpr std::int64_t kOutBlock = 32;  // output channels per product: two vectors
constexpr int kTiles = 12;              // tiles (pooling windows) per product
constexpr int kGradTiles = 36;          // tiles per product of the weight gradient
constexpr int kPositions = 16;          // a tile's 4 x 4 transformed values

struct Shape {
    std::int64_t n, h, w, pooledH, pooledW, in, out;
};

Shape shapeOf(const torch::Tensor& x, const torch::Tensor& weight) {
    const std::int64_t h = x.size(2), w = x.size(3);
    return {x.size(0), h, w, (h - 2) / 2, (w - 2) / 2, x.size(1), weight.size(0)};
}

// U = G g G^T for every kernel, laid out [position][in][out]; `forInputGradient`, for the
// kernels of the backward pass over the input: each kernel turned by 180 degrees, laid out
// [position][out][in].
torch::Tensor transformWeights(const torch::Tensor& weight, bool forInputGradient) {
    const torch::Tensor g = weight.contiguous();
    const std::int64_t out = g.size(0), in = g.size(1);
    torch::Tensor u = torch::empty(
        {kPositions, forInputGradient ? out : in, forInputGradient ? in : out}, g.options());
    const float* src = g.data_ptr<float>();
    float* dst = u.data_ptr<float>();
    for (std::int64_t o = 0; o < out; ++o) {
        for (std::int64_t i = 0; i < in; ++i) {
            const float* w = src + (o * in + i) * 9;
            float k[9];
            for (int t = 0; t < 9; ++t)
                k[t] = forInputGradient ? w[8 - t] : w[t];
            float rows[4][3];  // G g
            for (int c = 0; c < 3; ++c) {
                rows[0][c] = k[c];
                rows[1][c] = (k[c] + k[3 + c] + k[6 + c]) * 0.5f;
                rows[2][c] = (k[c] - k[3 + c] + k[6 + c]) * 0.5f;
                rows[3][c] = k[6 + c];
            }
            for (int r = 0; r < 4; ++r) {
                const float* v = rows[r];
                const float t[4] = {v[0], (v[0] + v[1] + v[2]) * 0.5f, (v[0] - v[1] + v[2]) * 0.5f,
                                    v[2]};
                for (int c = 0; c < 4; ++c) {
                    const std::int64_t at = forInputGradient ? o * in + i : i * out + o;
                    dst[(r * 4 + c) * in * out + at] = t[c];
                }
            }
        }
    }
    return u;
}

// dW = G^T dU g for every kernel from dU [position][in][out] (double): the weight's layout.
torch::Tensor weightsFromTransformed(const std::vector<double>& du, std::int64_t in,
                                     std::int64_t out) {
    torch::Tensor w = torch::empty({out, in, 3, 3}, torch::kFloat32);
    float* dst = w.data_ptr<float>();
    for (std::int64_t o = 0; o < out; ++o) {
        for (std::int64_t i = 0; i < in; ++i) {
            double u[4][4];
            for (int e = 0; e < kPositions; ++e)
                u[e / 4][e % 4] = du[std::size_t((e * in + i) * out + o)];
            double rows[3][4];  // G^T dU
            for (int c = 0; c < 4; ++c) {
                rows[0][c] = u[0][c] + 0.5 * (u[1][c] + u[2][c]);
                rows[1][c] = 0.5 * (u[1][c] - u[2][c]);
                rows[2][c] = 0.5 * (u[1][c] + u[2][c]) + u[3][c];
            }
            float* k = dst + (o * in + i) * 9;
            for (int r = 0; r < 3; ++r) {
                const double* v = rows[r];
                k[r * 3] = float(v[0] + 0.5 * (v[1] + v[2]));
                k[r * 3 + 1] = float(0.5 * (v[1] - v[2]));
                k[r * 3 + 2] = float(0.5 * (v[1] + v[2]) + v[3]);
            }
        }
    }
    return w;
}

#ifdef CONVSCOPE_AVX512
#define AVX512_INLINE [[gnu::always_inline, gnu::target("avx512f")]] inline

using Block = __m512[4][4];

// V = B^T d B for 16 channels of one tile's 4 x 4 block `d`: `v` is its first transformed
// value; positions lie `positionStride` floats apart.
AVX512_INLINE void transformBlock(const Block& d, float* v, std::int64_t positionStride) {
    __m512 t[4][4];
    for (int j = 0; j < 4; ++j) {
        t[0][j] = _mm512_sub_ps(d[0][j], d[2][j]);
        t[1][j] = _mm512_add_ps(d[1][j], d[2][j]);
        t[2][j] = _mm512_sub_ps(d[2][j], d[1][j]);
        t[3][j] = _mm512_sub_ps(d[1][j], d[3][j]);
    }
    for (int i = 0; i < 4; ++i) {
        float* row = v + i * 4 * positionStride;
        _mm512_storeu_ps(row, _mm512_sub_ps(t[i][0], t[i][2]));
        _mm512_storeu_ps(row + positionStride, _mm512_add_ps(t[i][1], t[i][2]));
        _mm512_storeu_ps(row + 2 * positionStride, _mm512_sub_ps(t[i][2], t[i][1]));
        _mm512_storeu_ps(row + 3 * positionStride, _mm512_sub_ps(t[i][1], t[i][3]));
    }
}

// The same for a block of the input: `at` is the tile's top-left value.
AVX512_INLINE void transformInput(const float* at, std::int64_t rowStride, std::int64_t pixelStride,
                                  float* v, std::int64_t positionStride) {
    Block d;
    for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j)
            d[i][j] = _mm512_loadu_ps(at + i * rowStride + j * pixelStride);
    transformBlock(d, v, positionStride);
}

struct Corners {
    __m512 a, b, c, d;  // upper left, upper right, lower left, lower right
};

// Y = A^T M A for 16 channels of one tile: `m` is its first product, positions
// `positionStride` floats apart.
AVX512_INLINE Corners transformOutput(const float* m, std::int64_t positionStride) {
    __m512 s[2][4];
    for (int j = 0; j < 4; ++j) {
        const __m512 m0 = _mm512_loadu_ps(m + j * positionStride);
        const __m512 m1 = _mm512_loadu_ps(m + (4 + j) * positionStride);
        const __m512 m2 = _mm512_loadu_ps(m + (8 + j) * positionStride);
        const __m512 m3 = _mm512_loadu_ps(m + (12 + j) * positionStride);
        s[0][j] = _mm512_add_ps(_mm512_add_ps(m0, m1), m2);
        s[1][j] = _mm512_sub_ps(_mm512_sub_ps(m1, m2), m3);
    }
    Corners y;
    y.a = _mm512_add_ps(_mm512_add_ps(s[0][0], s[0][1]), s[0][2]);
    y.b = _mm512_sub_ps(_mm512_sub_ps(s[0][1], s[0][2]), s[0][3]);
    y.c = _mm512_add_ps(_mm512_add_ps(s[1][0], s[1][1]), s[1][2]);
    y.d = _mm512_sub_ps(_mm512_sub_ps(s[1][1], s[1][2]), s[1][3]);
    return y;
}

// M[e] = V[e] U[e] for T tiles: V is [position][kTiles][in], U [position][in][out], M
// [position][kTiles][out]. T tiles x two vectors of sums stay in registers.
template <int T>
[[gnu::target("avx512f")]] void multiplyTiles(const float* v, const float* u, float* m,
                                              std::int64_t in, std::int64_t out) {
    for (int e = 0; e < kPositions; ++e) {
        const float* ve = v + e * kTiles * in;
        const float* ue = u + e * in * out;
        float* me = m + e * kTiles * out;
        for (std::int64_t block = 0; block < out; block += kOutBlock) {
            __m512 acc[T][2];
            for (auto& tile : acc)
                tile[0] = tile[1] = _mm512_setzero_ps();
            for (std::int64_t c = 0; c < in; ++c) {
                const __m512 w0 = _mm512_loadu_ps(ue + c * out + block);
                const __m512 w1 = _mm512_loadu_ps(ue + c * out + block + 16);
                for (int t = 0; t < T; ++t) {
                    const __m512 x = _mm512_set1_ps(ve[t * in + c]);
                    acc[t][0] = _mm512_fmadd_ps(x, w0, acc[t][0]);
                    acc[t][1] = _mm512_fmadd_ps(x, w1, acc[t][1]);
                }
            }
            for (int t = 0; t < T; ++t) {
                _mm512_storeu_ps(me + t * out + block, acc[t][0]);
                _mm512_storeu_ps(me + t * out + block + 16, acc[t][1]);
            }
        }
    }
}

using MultiplyTiles = void (*)(const float*, const float*, float*, std::int64_t, std::int64_t);

template <int... T>
constexpr std::array<MultiplyTiles, sizeof...(T)> multiplyTable(std::integer_sequence<int, T...>) {
    return {&multiplyTiles<T + 1>...};
}

// multiplyTiles for 1 to kTiles tiles.
constexpr std::array<MultiplyTiles, kTiles> kMultiply =
    multiplyTable(std::make_integer_sequence<int, kTiles>());

// How many of the `left` tiles of a row the next product takes: a row's products as equal as
// kTiles allows (37 tiles: 10, 9, 9, 9, not 12, 12, 12, 1), since few tiles keep too few sums
// in flight to fill the multiply-add units.
inline std::int64_t nextBlock(std::int64_t left) {
    const std::int64_t products = (left + kTiles - 1) / kTiles;
    return (left + products - 1) / products;
}

// Scratch for one thread: the transformed inputs and the products of kTiles tiles.
struct Scratch {
    std::vector<float> v, m;
    explicit Scratch(const Shape& s)
        : v(std::size_t(kPositions * kTiles * s.in)), m(std::size_t(kPositions * kTiles * s.out)) {}
};

// One row of pooling windows: `in` is input row 2 * py, `out` and `codes` the pooled row.
[[gnu::target("avx512f")]] void forwardRow(const float* in, const Shape& s, const float* u,
                                           const float* bias, float* out, std::uint8_t* codes,
                                           Scratch& scratch) {
    const std::int64_t rowStride = s.w * s.in;
    for (std::int64_t first = 0, count = 0; first < s.pooledW; first += count) {
        count = nextBlock(s.pooledW - first);
        for (int t = 0; t < count; ++t)
            for (std::int64_t c = 0; c < s.in; c += kChunk)
                transformInput(in + 2 * (first + t) * s.in + c, rowStride, s.in,
                               scratch.v.data() + t * s.in + c, kTiles * s.in);
        kMultiply[std::size_t(count - 1)](scratch.v.data(), u, scratch.m.data(), s.in, s.out);
        for (int t = 0; t < count; ++t) {
            const std::int64_t at = (first + t) * s.out;
            for (std::int64_t o = 0; o < s.out; o += kChunk) {
                const Corners y = transformOutput(scratch.m.data() + t * s.out + o, kTiles * s.out);
                const __m512 add = _mm512_loadu_ps(bias + o);
                poolpick::pickAndStore(_mm512_add_ps(y.a, add), _mm512_add_ps(y.b, add),
                                       _mm512_add_ps(y.c, add), _mm512_add_ps(y.d, add),
                                       out + at + o, codes ? codes + at + o : nullptr);
            }
        }
    }
}

// The convolution's output gradient in one pooling window, 16 channels: the pooled gradient
// at the corner its code names, zero elsewhere (or everywhere outside the pooled map).
struct Window {
    __m512 a, b, c, d;
};

AVX512_INLINE Window windowGradient(const float* gradOut, const std::uint8_t* codes) {
    const __m512 g = _mm512_loadu_ps(gradOut);
    const __m512i code = poolpick::loadCodes(codes);
    return {poolpick::gradientAt(g, code, 1), poolpick::gradientAt(g, code, 2),
            poolpick::gradientAt(g, code, 3), poolpick::gradientAt(g, code, 4)};
}

// Where the pooled gradient and codes of image `image`, window (py, px), channel `channel`
// are; -1 outside the pooled map.
inline std::int64_t windowAt(const Shape& s, std::int64_t image, std::int64_t py, std::int64_t px,
                             std::int64_t channel) {
    if (py < 0 || py >= s.pooledH || px < 0 || px >= s.pooledW)
        return -1;
    return ((image * s.pooledH + py) * s.pooledW + px) * s.out + channel;
}

// One row of 2x2 tiles of the input gradient, rows 2 * ty and 2 * ty + 1 of image `image`:
// each is the 180-degree-turned kernels' F(2x2, 3x3) over the 4 x 4 block of the
// convolution's output gradient that ends at the tile (two pooling windows by two, padded
// with zeros). `gradIn` is the image's input gradient.
[[gnu::target("avx512f")]] void inputGradientRow(const float* gradOut, const std::uint8_t* codes,
                                                 const Shape& s, std::int64_t image,
                                                 std::int64_t ty, const float* u, float* gradIn,
                                                 Scratch& scratch) {
    const std::int64_t tilesW = (s.w + 1) / 2;
    const std::int64_t vStride = kTiles * s.out, mStride = kTiles * s.in;
    for (std::int64_t first = 0, count = 0; first < tilesW; first += count) {
        count = nextBlock(tilesW - first);
        for (int t = 0; t < count; ++t) {
            const std::int64_t tx = first + t;
            for (std::int64_t o = 0; o < s.out; o += kChunk) {
                Block d;
                for (int qy = 0; qy < 2; ++qy) {
                    for (int qx = 0; qx < 2; ++qx) {
                        const std::int64_t at = windowAt(s, image, ty - 1 + qy, tx - 1 + qx, o);
                        const Window w = at < 0 ? Window{_mm512_setzero_ps(), _mm512_setzero_ps(),
                                                         _mm512_setzero_ps(), _mm512_setzero_ps()}
                                                : windowGradient(gradOut + at, codes + at);
                        d[2 * qy][2 * qx] = w.a;
                        d[2 * qy][2 * qx + 1] = w.b;
                        d[2 * qy + 1][2 * qx] = w.c;
                        d[2 * qy + 1][2 * qx + 1] = w.d;
                    }
                }
                transformBlock(d, scratch.v.data() + t * s.out + o, vStride);
            }
        }
        kMultiply[std::size_t(count - 1)](scratch.v.data(), u, scratch.m.data(), s.out, s.in);
        for (int t = 0; t < count; ++t) {
            const std::int64_t x = 2 * (first + t), y = 2 * ty;
            const bool right = x + 1 < s.w, below = y + 1 < s.h;
            float* at = gradIn + (y * s.w + x) * s.in;
            for (std::int64_t i = 0; i < s.in; i += kChunk) {
                const Corners c = transformOutput(scratch.m.data() + t * s.in + i, mStride);
                _mm512_storeu_ps(at + i, c.a);
                if (right)
                    _mm512_storeu_ps(at + s.in + i, c.b);
                if (below)
                    _mm512_storeu_ps(at + s.w * s.in + i, c.c);
                if (right && below)
                    _mm512_storeu_ps(at + (s.w + 1) * s.in + i, c.d);
            }
        }
    }
}

// A 2x2 gradient block [a b; c d] taken to the 16 positions: A g A^T.
AVX512_INLINE void transformGradient(const Window& g, float* v, std::int64_t positionStride) {
    // A g: rows [a b], [a+c b+d], [a-c b-d], [-c -d]; then each row [p q] -> [p p+q p-q -q].
    const __m512 zero = _mm512_setzero_ps();
    const __m512 rows[4][2] = {{g.a, g.b},
                               {_mm512_add_ps(g.a, g.c), _mm512_add_ps(g.b, g.d)},
                               {_mm512_sub_ps(g.a, g.c), _mm512_sub_ps(g.b, g.d)},
                               {_mm512_sub_ps(zero, g.c), _mm512_sub_ps(zero, g.d)}};
    for (int i = 0; i < 4; ++i) {
        const __m512 p = rows[i][0], q = rows[i][1];
        float* row = v + i * 4 * positionStride;
        _mm512_storeu_ps(row, p);
        _mm512_storeu_ps(row + positionStride, _mm512_add_ps(p, q));
        _mm512_storeu_ps(row + 2 * positionStride, _mm512_sub_ps(p, q));
        _mm512_storeu_ps(row + 3 * positionStride, _mm512_sub_ps(zero, q));
    }
}

// dU[e] += V[e]^T Gt[e] for `count` tiles: V is [position][kGradTiles][in], Gt
// [position][kGradTiles][out], dU [position][in][out]. 8 input channels x two vectors of output
// channels stay in registers over the tiles.
[[gnu::target("avx512f")]] void accumulateTiles(const float* v, const float* gt, float* du,
                                                int count, std::int64_t in, std::int64_t out) {
    constexpr int kRows = 8;
    for (int e = 0; e < kPositions; ++e) {
        const float* ve = v + e * kGradTiles * in;
        const float* ge = gt + e * kGradTiles * out;
        float* de = du + e * in * out;
        for (std::int64_t i = 0; i < in; i += kRows) {
            for (std::int64_t block = 0; block < out; block += kOutBlock) {
                __m512 acc[kRows][2];
                for (int r = 0; r < kRows; ++r) {
                    acc[r][0] = _mm512_loadu_ps(de + (i + r) * out + block);
                    acc[r][1] = _mm512_loadu_ps(de + (i + r) * out + block + 16);
                }
                for (int t = 0; t < count; ++t) {
                    const __m512 g0 = _mm512_loadu_ps(ge + t * out + block);
                    const __m512 g1 = _mm512_loadu_ps(ge + t * out + block + 16);
                    for (int r = 0; r < kRows; ++r) {
                        const __m512 x = _mm512_set1_ps(ve[t * in + i + r]);
                        acc[r][0] = _mm512_fmadd_ps(x, g0, acc[r][0]);
                        acc[r][1] = _mm512_fmadd_ps(x, g1, acc[r][1]);
                    }
                }
                for (int r = 0; r < kRows; ++r) {
                    _mm512_storeu_ps(de + (i + r) * out + block, acc[r][0]);
                    _mm512_storeu_ps(de + (i + r) * out + block + 16, acc[r][1]);
                }
            }
        }
    }
}

// One row of pooling windows' share of the transformed weight gradient dU (and of the bias
// gradient): every window is a tile whose input block and output gradient are transformed.
[[gnu::target("avx512f")]] void weightGradientRow(const float* input, const float* gradOut,
                                                  const std::uint8_t* codes, const Shape& s,
                                                  std::int64_t r, float* du, float* biasSums,
                                                  std::vector<float>& v, std::vector<float>& gt) {
    const std::int64_t image = r / s.pooledH, py = r % s.pooledH;
    const float* in = input + (image * s.h + 2 * py) * s.w * s.in;
    const std::int64_t rowStride = s.w * s.in;
    for (std::int64_t first = 0; first < s.pooledW; first += kGradTiles) {
        const int count = int(std::min<std::int64_t>(kGradTiles, s.pooledW - first));
        for (int t = 0; t < count; ++t) {
            for (std::int64_t c = 0; c < s.in; c += kChunk)
                transformInput(in + 2 * (first + t) * s.in + c, rowStride, s.in,
                               v.data() + t * s.in + c, kGradTiles * s.in);
            for (std::int64_t o = 0; o < s.out; o += kChunk) {
                const std::int64_t at = windowAt(s, image, py, first + t, o);
                const Window w = windowGradient(gradOut + at, codes + at);
                transformGradient(w, gt.data() + t * s.out + o, kGradTiles * s.out);
                const __m512 passed =
                    _mm512_add_ps(_mm512_add_ps(w.a, w.b), _mm512_add_ps(w.c, w.d));
                _mm512_storeu_ps(biasSums + o,
                                 _mm512_add_ps(_mm512_loadu_ps(biasSums + o), passed));
            }
        }
        accumulateTiles(v.data(), gt.data(), du, count, s.in, s.out);
    }
}

#undef AVX512_INLINE
#endif

Pooled forwardKernel(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                     bool withCodes) {
    const Shape s = shapeOf(x, weight);
    Pooled pooled = pooledconv::emptyPooled(x, s.n, s.out, s.pooledH, s.pooledW, withCodes);
#ifdef CONVSCOPE_AVX512
    const torch::Tensor u = transformWeights(weight, false);
    const torch::Tensor b = bias.contiguous();
    const float* input = x.data_ptr<float>();
    const float* transformed = u.data_ptr<float>();
    const float* add = b.data_ptr<float>();
    float* out = pooled.output.data_ptr<float>();
    std::uint8_t* codes = withCodes ? pooled.codes.data_ptr<std::uint8_t>() : nullptr;
    at::parallel_for(0, s.n * s.pooledH, 1, [&](std::int64_t begin, std::int64_t end) {
        Scratch scratch(s);
        for (std::int64_t r = begin; r < end; ++r) {
            const std::int64_t image = r / s.pooledH, py = r % s.pooledH;
            const float* row = input + (image * s.h + 2 * py) * s.w * s.in;
            const std::int64_t at = r * s.pooledW * s.out;
            forwardRow(row, s, transformed, add, out + at, codes ? codes + at : nullptr, scratch);
        }
    });
#endif
    return pooled;
}

// Pooled rows per part of the weight and bias gradient sums: fixed by the batch's shape alone,
// so that the sums do not depend on how the rows are shared between threads; at least 36 (an
// image of the blog net's second layer), and more for big batches, so that there are at most
// kMaxParts parts of 16 x in x out sums to keep and add.
constexpr std::int64_t kRowsPerPart = 36;
constexpr std::int64_t kMaxParts = 64;

std::int64_t rowsPerPart(std::int64_t rows) {
    return std::max(kRowsPerPart, (rows + kMaxParts - 1) / kMaxParts);
}

torch::Tensor inputGradient(const torch::Tensor& gradOut, const torch::Tensor& codes,
                            const Shape& s, const torch::Tensor& weight) {
    torch::Tensor gradIn =
        torch::empty({s.n, s.in, s.h, s.w}, gradOut.options(), torch::MemoryFormat::ChannelsLast);
#ifdef CONVSCOPE_AVX512
    const torch::Tensor u = transformWeights(weight, true);
    const float* g = gradOut.data_ptr<float>();
    const std::uint8_t* code = codes.data_ptr<std::uint8_t>();
    const float* turned = u.data_ptr<float>();
    float* gin = gradIn.data_ptr<float>();
    const std::int64_t tilesH = (s.h + 1) / 2;
    // The backward pass's products run from the output channels to the input channels.
    const Shape swapped{s.n, s.h, s.w, s.pooledH, s.pooledW, s.out, s.in};
    at::parallel_for(0, s.n * tilesH, 1, [&](std::int64_t begin, std::int64_t end) {
        Scratch scratch(swapped);
        for (std::int64_t r = begin; r < end; ++r) {
            const std::int64_t image = r / tilesH, ty = r % tilesH;
            inputGradientRow(g, code, s, image, ty, turned, gin + image * s.h * s.w * s.in,
                             scratch);
        }
    });
#else
    (void)codes, (void)weight;
#endif
    return gradIn;
}

std::pair<torch::Tensor, torch::Tensor> weightAndBiasGradients(const torch::Tensor& x,
                                                               const torch::Tensor& gradOut,
                                                               const torch::Tensor& codes,
                                                               const Shape& s) {
    const std::int64_t rows = s.n * s.pooledH;
    const std::int64_t perPart = rowsPerPart(rows);
    const std::int64_t parts = (rows + perPart - 1) / perPart;
    const std::int64_t transformedValues = kPositions * s.in * s.out;
    const std::int64_t partValues = transformedValues + s.out;
    std::vector<float> partSums(std::size_t(parts * partValues), 0.0f);
#ifdef CONVSCOPE_AVX512
    const float* input = x.data_ptr<float>();
    const float* g = gradOut.data_ptr<float>();
    const std::uint8_t* code = codes.data_ptr<std::uint8_t>();
    at::parallel_for(0, parts, 1, [&](std::int64_t begin, std::int64_t end) {
        std::vector<float> v(std::size_t(kPositions * kGradTiles * s.in));
        std::vector<float> gt(std::size_t(kPositions * kGradTiles * s.out));
        for (std::int64_t part = begin; part < end; ++part) {
            float* sums = partSums.data() + part * partValues;
            const std::int64_t last = std::min(rows, (part + 1) * perPart);
            for (std::int64_t r = part * perPart; r < last; ++r)
                weightGradientRow(input, g, code, s, r, sums, sums + transformedValues, v, gt);
        }
    });
#else
    (void)x, (void)gradOut, (void)codes;
#endif
    // The parts in order, in double.
    const std::vector<double> total = sumRowsInOrderExactly(partSums.data(), parts, partValues);
    torch::Tensor gradBias = torch::empty({s.out}, torch::kFloat32);
    for (std::int64_t o = 0; o < s.out; ++o)
        gradBias.data_ptr<float>()[o] = float(total[std::size_t(transformedValues + o)]);
    return {weightsFromTransformed(total, s.in, s.out), gradBias};
}

struct Kernels {
    static Pooled forward(const torch::Tensor& x, const torch::Tensor& weight,
                          const torch::Tensor& bias, bool withCodes) {
        return forwardKernel(x, weight, bias, withCodes);
    }

    static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                   const torch::Tensor& x,
                                                   const torch::Tensor& weight,
                                                   const torch::Tensor& codes,
                                                   const torch::Tensor& gradOutput) {
        const torch::Tensor g =
            gradOutput.to(torch::kFloat32).contiguous(torch::MemoryFormat::ChannelsLast);
        const Shape s = shapeOf(x, weight);
        torch::autograd::variable_list result(3);
        if (ctx->needs_input_grad(0))
            result[0] = inputGradient(g, codes, s, weight);
        if (ctx->needs_input_grad(1) || ctx->needs_input_grad(2)) {
            auto [gradWeight, gradBias] = weightAndBiasGradients(x, g, codes, s);
            result[1] = gradWeight;
            result[2] = gradBias;
        }
        return result;
    }
};

using WinogradConvReluMaxPool2 = pooledconv::Function<Kernels>;

}  // namespace

bool winogradConvReluMaxPool2Applies(const torch::Tensor& x, const torch::Tensor& weight,
                                     const torch::Tensor& bias) {
#ifdef CONVSCOPE_AVX512
    return cpuHasAvx512f() && pooledconv::isFloat32Cpu(x) && x.dim() == 4 && x.size(1) > 0 &&
           x.size(1) % kOutBlock == 0 &&
           pooledconv::layerFits(x, weight, bias, x.size(1), kOutBlock) &&
           !at::autocast::is_autocast_enabled(at::kCPU);
#else
    (void)x, (void)weight, (void)bias;
    return false;
#endif
}

torch::Tensor winogradConvReluMaxPool2(const torch::Tensor& x, const torch::Tensor& weight,
                                       const torch::Tensor& bias) {
    if (!winogradConvReluMaxPool2Applies(x, weight, bias))
        return reluMaxPool2(torch::conv2d(x, weight), bias);
    if (torch::GradMode::is_enabled() &&
        (x.requires_grad() || weight.requires_grad() || bias.requires_grad()))
        return WinogradConvReluMaxPool2::apply(x, weight, bias);
    return forwardKernel(x, weight, bias, false).output;
}

}  // namespace convscope
