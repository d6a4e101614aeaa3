#include "data/bilinearresize.h"

#include "error.h"
#include "util/cpufeatures.h"

#include <opencv2/core.hpp>

#include <algorithm>
#include <cstring>
#include <cstdint>
#include <vector>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define CONVSCOPE_RESIZE_AVX2 1
#endif

namespace convscope {

namespace {

constexpr int kOne = 64;    // tap weights in 1/64ths: they fit a signed byte
constexpr int kShift = 12;  // two blends of kOne each

// An output position along one axis: the two source pixels it blends, and the weight of the
// second in 1/64ths. Both taps are always inside the image; at the edges they are the same.
struct Taps {
    int first, second;
    int weight;
};

// Exact: output i samples the source at ((2i + 1) * from - to) / (2 * to), which is rounded
// to the nearest 1/64 (halves up) in integers, so every CPU agrees.
std::vector<Taps> axisTaps(int from, int to) {
    std::vector<Taps> taps(static_cast<std::size_t>(to));
    const std::int64_t twice = 2 * std::int64_t(to);
    for (int i = 0; i < to; ++i) {
        const std::int64_t numerator = (2 * std::int64_t(i) + 1) * from - to;
        Taps& t = taps[std::size_t(i)];
        if (numerator <= 0) {
            t = {0, 0, 0};
            continue;
        }
        const std::int64_t sixtyFourths = (numerator * kOne + to) / twice;
        const int whole = int(sixtyFourths / kOne), weight = int(sixtyFourths % kOne);
        t = whole >= from - 1 ? Taps{from - 1, from - 1, 0} : Taps{whole, whole + 1, weight};
    }
    return taps;
}

// Columns [from, to) of one source row blended across: out[4x + c] = a * (64 - w) + b * w for
// the taps a and b of output column x and each channel c, in 1/64ths (at most 255 * 64, so
// 16 bits hold it), and out[4x + 3] = 0, a fourth value that lets the vector loops take whole
// columns.
void columnsPortable(const std::uint8_t* row, const std::vector<Taps>& xs, int from, int to,
                     std::int16_t* out) {
    for (int x = from; x < to; ++x) {
        const Taps& t = xs[std::size_t(x)];
        const std::uint8_t* a = row + 3 * t.first;
        const std::uint8_t* b = row + 3 * t.second;
        for (int c = 0; c < 3; ++c)
            out[4 * x + c] = std::int16_t(a[c] * (kOne - t.weight) + b[c] * t.weight);
        out[4 * x + 3] = 0;
    }
}

// Columns [from, to) of two rows blended across, blended down and rounded to bytes.
void rowsPortable(const std::int16_t* top, const std::int16_t* bottom, int weight, int from, int to,
                  std::uint8_t* out) {
    const int topWeight = kOne - weight;
    for (int x = from; x < to; ++x)
        for (int c = 0; c < 3; ++c)
            out[3 * x + c] = std::uint8_t(
                (top[4 * x + c] * topWeight + bottom[4 * x + c] * weight + (1 << (kShift - 1))) >>
                kShift);
}

#ifdef CONVSCOPE_RESIZE_AVX2
#define AVX2_TARGET gnu::target("avx2")

// For the AVX2 loops: the byte offset of each output column's first tap, its weights as bytes
// (64 - w, w) three times and then (0, 0), and how many leading columns can read both taps as
// 8 bytes inside the row.
struct ColumnPlan {
    std::vector<int> offset;
    std::vector<std::uint64_t> weights;
    int eightByteColumns = 0;
};

ColumnPlan columnPlan(const std::vector<Taps>& xs, int rowBytes) {
    ColumnPlan plan;
    for (const Taps& t : xs) {
        plan.offset.push_back(3 * t.first);
        std::uint64_t w = 0;
        for (int c = 0; c < 3; ++c)
            w |= (std::uint64_t(kOne - t.weight) | std::uint64_t(t.weight) << 8) << (16 * c);
        plan.weights.push_back(w);
        if (3 * t.first + 8 <= rowBytes)  // the first taps only grow: a prefix
            ++plan.eightByteColumns;
    }
    return plan;
}

// columnsPortable() for all columns, four at a time: both taps of a column come from one
// 8-byte read, and one multiply-add of unsigned bytes by signed weights blends them.
[[AVX2_TARGET]] void columnsAvx2(const std::uint8_t* row, const std::vector<Taps>& xs,
                                 const ColumnPlan& plan, std::int16_t* out) {
    const __m256i order = _mm256_broadcastsi128_si256(
        _mm_setr_epi8(0, 3, 1, 4, 2, 5, -1, -1, 8, 11, 9, 12, 10, 13, -1, -1));
    const int* offset = plan.offset.data();
    int x = 0;
    for (; x + 4 <= plan.eightByteColumns; x += 4) {
        __m128i a = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(row + offset[x]));
        a = _mm_castpd_si128(_mm_loadh_pd(_mm_castsi128_pd(a),
                                          reinterpret_cast<const double*>(row + offset[x + 1])));
        __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(row + offset[x + 2]));
        b = _mm_castpd_si128(_mm_loadh_pd(_mm_castsi128_pd(b),
                                          reinterpret_cast<const double*>(row + offset[x + 3])));
        const __m256i bytes = _mm256_inserti128_si256(_mm256_castsi128_si256(a), b, 1);
        const __m256i w =
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(plan.weights.data() + x));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 4 * x),
                            _mm256_maddubs_epi16(_mm256_shuffle_epi8(bytes, order), w));
    }
    columnsPortable(row, xs, x, int(xs.size()), out);
}

[[gnu::always_inline, AVX2_TARGET]] inline __m256i blendDown(const std::int16_t* top,
                                                             const std::int16_t* bottom,
                                                             __m256i weights) {
    const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(top));
    const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bottom));
    const __m256i half = _mm256_set1_epi32(1 << (kShift - 1));
    const __m256i low = _mm256_srai_epi32(
        _mm256_add_epi32(_mm256_madd_epi16(_mm256_unpacklo_epi16(a, b), weights), half), kShift);
    const __m256i high = _mm256_srai_epi32(
        _mm256_add_epi32(_mm256_madd_epi16(_mm256_unpackhi_epi16(a, b), weights), half), kShift);
    return _mm256_packs_epi32(low, high);
}

// rowsPortable() for all `columns`, eight at a time: the top and bottom values of each are
// blended by one multiply-add, and the bytes are packed and put in order.
[[AVX2_TARGET]] void rowsAvx2(const std::int16_t* top, const std::int16_t* bottom, int weight,
                              int columns, std::uint8_t* out) {
    const __m256i weights = _mm256_set1_epi32((weight << 16) | (kOne - weight));
    const __m256i compact = _mm256_broadcastsi128_si256(
        _mm_setr_epi8(0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1));
    int x = 0;
    for (; x + 8 <= columns; x += 8) {
        const __m256i first = blendDown(top + 4 * x, bottom + 4 * x, weights);
        const __m256i second = blendDown(top + 4 * x + 16, bottom + 4 * x + 16, weights);
        // The pack leaves columns 0 1 4 5 | 2 3 6 7; the 64-bit permutation puts them in order.
        const __m256i bytes = _mm256_permute4x64_epi64(_mm256_packus_epi16(first, second), 0xD8);
        const __m256i packed = _mm256_shuffle_epi8(bytes, compact);
        std::memcpy(out + 3 * x, &packed, 12);
        std::memcpy(out + 3 * x + 12, reinterpret_cast<const char*>(&packed) + 16, 12);
    }
    rowsPortable(top, bottom, weight, x, columns, out);
}
#undef AVX2_TARGET
#endif

}  // namespace

void resizeBilinear(const cv::Mat& src, cv::Mat& dst, ResizeLoops loops) {
    if (src.type() != CV_8UC3 || src.empty() || dst.type() != CV_8UC3 || dst.empty())
        throw Error("resize", "expects non-empty 8-bit, 3-channel images");
    const std::vector<Taps> xs = axisTaps(src.cols, dst.cols);
    const std::vector<Taps> ys = axisTaps(src.rows, dst.rows);
    bool avx2 = false;
#ifdef CONVSCOPE_RESIZE_AVX2
    ColumnPlan plan;
    if (loops == ResizeLoops::Widest && cpuHasAvx2()) {
        plan = columnPlan(xs, 3 * src.cols);
        avx2 = true;
    }
#else
    (void)loops;
#endif
    const int values = 4 * dst.cols;

    // The two source rows blended across that the current output row needs; rows are taken
    // in order, so each is blended across once.
    std::vector<std::int16_t> buffer(2 * std::size_t(values));
    int held[2] = {-1, -1};
    auto across = [&](int sourceRow, int keep) -> const std::int16_t* {
        for (int k = 0; k < 2; ++k)
            if (held[k] == sourceRow)
                return buffer.data() + k * values;
        const int k = held[0] == keep ? 1 : 0;
        std::int16_t* out = buffer.data() + k * values;
        const std::uint8_t* row = src.ptr(sourceRow);
#ifdef CONVSCOPE_RESIZE_AVX2
        if (avx2)
            columnsAvx2(row, xs, plan, out);
        else
#endif
            columnsPortable(row, xs, 0, dst.cols, out);
        held[k] = sourceRow;
        return out;
    };
    for (int y = 0; y < dst.rows; ++y) {
        const Taps& t = ys[std::size_t(y)];
        const std::int16_t* top = across(t.first, t.second);
        const std::int16_t* bottom = across(t.second, t.first);
#ifdef CONVSCOPE_RESIZE_AVX2
        if (avx2) {
            rowsAvx2(top, bottom, t.weight, dst.cols, dst.ptr(y));
            continue;
        }
#endif
        rowsPortable(top, bottom, t.weight, 0, dst.cols, dst.ptr(y));
    }
}

}  // namespace convscope
