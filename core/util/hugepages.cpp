#include "util/hugepages.h"

#include <cstdlib>
#include <new>

#include <sys/mman.h>

namespace convscope {

void* allocateHugePageAligned(std::size_t bytes) {
    void* base = nullptr;
    if (::posix_memalign(&base, kHugePageBytes, bytes == 0 ? 1 : bytes) != 0)
        throw std::bad_alloc();
    ::madvise(base, bytes, MADV_HUGEPAGE);  // a hint: without it the memory works the same
    return base;
}

}  // namespace convscope
