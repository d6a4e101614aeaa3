#pragma once

namespace convscope {

#if defined(__x86_64__) && defined(__GNUC__)
#define CONVSCOPE_CPU_SUPPORTS(feature) __builtin_cpu_supports(feature)
#else
#define CONVSCOPE_CPU_SUPPORTS(feature) false
#endif

/// Whether this CPU runs AVX2. The build targets baseline x86-64, so the kernels that have an
/// AVX2 path (gnu::target) choose it with this at run time. False off x86-64 GCC or Clang.
/// Thread-safe; the CPU is asked once.
inline bool cpuHasAvx2() {
    static const bool have = CONVSCOPE_CPU_SUPPORTS("avx2");
    return have;
}

/// Whether this CPU runs AVX-512 Foundation (chosen the same way).
inline bool cpuHasAvx512f() {
    static const bool have = CONVSCOPE_CPU_SUPPORTS("avx512f");
    return have;
}

/// Whether this CPU runs AVX-512 F, BW, VL and VBMI (byte permutes): Ice Lake and later.
inline bool cpuHasAvx512Vbmi() {
    static const bool have =
        CONVSCOPE_CPU_SUPPORTS("avx512f") && CONVSCOPE_CPU_SUPPORTS("avx512bw") &&
        CONVSCOPE_CPU_SUPPORTS("avx512vl") && CONVSCOPE_CPU_SUPPORTS("avx512vbmi");
    return have;
}

#undef CONVSCOPE_CPU_SUPPORTS

}  // namespace convscope
