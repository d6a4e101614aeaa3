#pragma once

#include <ATen/Parallel.h>

#include <cstdint>
#include <vector>

namespace convscope {

/// The column sums of `count` rows of `width` floats, the rows added in order, in double: a
/// sum that does not depend on how the rows were shared between threads, each having filled
/// its own rows. The columns are shared between LibTorch's threads (each column still adds
/// its rows in order). Used for the gradients the CPU kernels sum themselves.
inline std::vector<double> sumRowsInOrderExactly(const float* rows, std::int64_t count,
                                                 std::int64_t width) {
    std::vector<double> total(std::size_t(width), 0.0);
    at::parallel_for(0, width, 4096, [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t r = 0; r < count; ++r)
            for (std::int64_t k = begin; k < end; ++k)
                total[std::size_t(k)] += rows[r * width + k];
    });
    return total;
}

/// The same sums rounded to float.
inline std::vector<float> sumRowsInOrder(const float* rows, std::int64_t count,
                                         std::int64_t width) {
    const std::vector<double> total = sumRowsInOrderExactly(rows, count, width);
    return std::vector<float>(total.begin(), total.end());
}

}  // namespace convscope
