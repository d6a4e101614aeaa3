#pragma once

#include <cstdint>
#include <vector>

namespace convscope {

/// The column sums of `count` rows of `width` floats, the rows added in order, in double: a
/// sum that does not depend on how the rows were shared between threads, each having filled
/// its own rows. Used for the gradients the CPU kernels sum themselves.
inline std::vector<float> sumRowsInOrder(const float* rows, std::int64_t count,
                                         std::int64_t width) {
    std::vector<double> total(std::size_t(width), 0.0);
    for (std::int64_t r = 0; r < count; ++r)
        for (std::int64_t k = 0; k < width; ++k)
            total[std::size_t(k)] += rows[r * width + k];
    return std::vector<float>(total.begin(), total.end());
}

}  // namespace convscope
