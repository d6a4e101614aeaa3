#pragma once

#include <cstddef>

namespace convscope {

/// The size of a transparent huge page on x86-64 Linux.
inline constexpr std::size_t kHugePageBytes = std::size_t(2) << 20;

/// `bytes` of uninitialised memory aligned to kHugePageBytes, which the kernel is asked to back
/// with transparent huge pages (madvise; honoured when THP is "madvise" or "always"): one page
/// fault and one zeroing per 2 MiB on first touch instead of 512. Free with std::free. Throws
/// std::bad_alloc. Thread-safe.
void* allocateHugePageAligned(std::size_t bytes);

}  // namespace convscope
