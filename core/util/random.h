#pragma once

#include <cstdint>
#include <utility>
#include <vector>

namespace convscope {

/// Mixes several values into one well-spread 64-bit seed (SplitMix64 finaliser).
std::uint64_t mixSeed(std::uint64_t a, std::uint64_t b = 0, std::uint64_t c = 0);

/// A small seeded generator whose output is the same on every platform and standard
/// library (std::*_distribution is not), so seeded runs reproduce byte for byte.
class Rng {
public:
    explicit Rng(std::uint64_t seed) : m_state(seed) {}

    std::uint64_t next();
    /// Uniform in [0, 1).
    double uniform01() { return double(next() >> 11) * 0x1.0p-53; }
    /// Uniform in [lo, hi).
    double uniform(double lo, double hi) { return lo + (hi - lo) * uniform01(); }
    /// Uniform integer in [0, n).
    std::uint64_t below(std::uint64_t n) { return n == 0 ? 0 : next() % n; }
    bool coin() { return (next() >> 63) != 0; }

    template <typename T>
    void shuffle(std::vector<T>& v) {
        for (std::size_t i = v.size(); i > 1; --i)
            std::swap(v[i - 1], v[below(i)]);
    }

private:
    std::uint64_t m_state;
};

}  // namespace convscope
