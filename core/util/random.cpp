#include "util/random.h"

namespace convscope {

namespace {
std::uint64_t splitmix(std::uint64_t& state) {
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
}  // namespace

std::uint64_t mixSeed(std::uint64_t a, std::uint64_t b, std::uint64_t c) {
    std::uint64_t s = a;
    std::uint64_t h = splitmix(s);
    s ^= b * 0xD1B54A32D192ED03ull;
    h ^= splitmix(s);
    s ^= c * 0xA0761D6478BD642Full;
    h ^= splitmix(s);
    return h;
}

std::uint64_t Rng::next() {
    return splitmix(m_state);
}

}  // namespace convscope
