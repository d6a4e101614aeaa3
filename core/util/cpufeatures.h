#pragma once

namespace convscope {

/// Whether this CPU runs AVX2. The build targets baseline x86-64, so the kernels that have an
/// AVX2 path (gnu::target) choose it with this at run time. False off x86-64 GCC or Clang.
/// Thread-safe; the CPU is asked once.
inline bool cpuHasAvx2() {
#if defined(__x86_64__) && defined(__GNUC__)
    static const bool have = __builtin_cpu_supports("avx2");
    return have;
#else
    return false;
#endif
}

/// Whether this CPU runs AVX-512 Foundation (chosen the same way).
inline bool cpuHasAvx512f() {
#if defined(__x86_64__) && defined(__GNUC__)
    static const bool have = __builtin_cpu_supports("avx512f");
    return have;
#else
    return false;
#endif
}

}  // namespace convscope
