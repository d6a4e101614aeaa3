#pragma once

#include <cstddef>
#include <cstdint>

namespace convscope {

/// LibTorch's CPU tensors get their memory from a caching allocator: a freed block of 256 KiB
/// or more is kept, by size class, for the next tensor of that size, instead of going back to
/// the system. A training step allocates the same activations every time; with glibc each one
/// was a fresh mmap whose pages the kernel zeroed on first touch (3.7 million page faults and
/// 7 s of system time in one epoch of W1). Blocks of 2 MiB and more ask for transparent huge
/// pages. What is kept is bounded (a quarter of the memory, at most 8 GiB); beyond that a freed
/// block goes back at once. Installed once, before the first tensor; idempotent.
void installCachingCpuAllocator();

/// Gives every kept block back to the system (after a run, in a long-lived window).
void releaseCachedCpuMemory();

struct CpuAllocatorStats {
    std::uint64_t allocations = 0;  ///< blocks handed out, small ones included
    std::uint64_t reused = 0;       ///< of them, served from the cache
    std::uint64_t cachedBytes = 0;  ///< kept now, free for reuse
    std::uint64_t limitBytes = 0;
    bool installed = false;
};
CpuAllocatorStats cpuAllocatorStats();

}  // namespace convscope
