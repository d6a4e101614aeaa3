#include "util/cpuallocator.h"

#include "util/hugepages.h"

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <c10/core/impl/alloc_cpu.h>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

namespace convscope {

namespace {

// Every block starts with this header; the tensor's data follows it, 64-byte aligned as
// LibTorch expects. The data pointer is also the DataPtr's context, so raw_allocate works.
struct alignas(64) Header {
    std::uint64_t magic;  // kMagic, and `self` the data pointer: the block is ours
    void* self;
    std::size_t bytes;  // usable bytes after the header (the size class for cached blocks)
    bool cached;        // returns to the cache when freed, else to the system
};
constexpr std::uint64_t kMagic = 0x43535f414c4c4f43ull;
static_assert(sizeof(Header) == 64);

constexpr std::size_t kCachedFrom = 256 << 10;

// The size class: n rounded up to an eighth of its power of two (at most 12.5% more), so
// that the last, smaller batch of an epoch reuses blocks too.
std::size_t sizeClass(std::size_t n) {
    std::size_t top = std::size_t(1) << (63 - __builtin_clzll(n));
    const std::size_t step = std::max<std::size_t>(top / 8, 4096);
    return (n + step - 1) / step * step;
}

class CachingCpuAllocator final : public c10::Allocator {
public:
    CachingCpuAllocator() {
        const long pages = ::sysconf(_SC_PHYS_PAGES), pageBytes = ::sysconf(_SC_PAGESIZE);
        const std::uint64_t memory = pages > 0 && pageBytes > 0
                                         ? std::uint64_t(pages) * std::uint64_t(pageBytes)
                                         : (std::uint64_t(4) << 30);
        m_limit = std::min<std::uint64_t>(memory / 4, std::uint64_t(8) << 30);
    }

    c10::DataPtr allocate(std::size_t n) override {
        void* data = allocateRaw(n);
        return {data, data, &release, c10::Device(c10::DeviceType::CPU)};
    }

    c10::DeleterFnPtr raw_deleter() const override { return &release; }

    void copy_data(void* dest, const void* src, std::size_t count) const override {
        default_copy_data(dest, src, count);
    }

    void* allocateRaw(std::size_t n) {
        ++m_allocations;
        const bool cached = n >= kCachedFrom;
        const std::size_t bytes = cached ? sizeClass(n) : std::max<std::size_t>(n, 1);
        if (cached) {
            std::lock_guard lock(m_mutex);
            auto it = m_free.find(bytes);
            if (it != m_free.end() && !it->second.empty()) {
                Header* h = it->second.back();
                it->second.pop_back();
                m_cachedBytes -= bytes;
                ++m_reused;
                return h + 1;
            }
        }
        // std::bad_alloc, which c10 turns into an out-of-memory error upstream, if none is left.
        void* base = nullptr;
        if (bytes >= kHugePageBytes)
            base = allocateHugePageAligned(sizeof(Header) + bytes);
        else if (::posix_memalign(&base, 64, sizeof(Header) + bytes) != 0)
            throw std::bad_alloc();
        auto* h = new (base) Header{kMagic, static_cast<Header*>(base) + 1, bytes, cached};
        return h + 1;
    }

    void free(void* data) {
        Header* h = static_cast<Header*>(data) - 1;
        // LibTorch's raw_deallocate asks the allocator installed now, which may free a block
        // that the default allocator made before this one was installed (a oneDNN buffer):
        // that goes back the way it came. Every allocation is at least 64 bytes into its
        // region (64-byte aligned after malloc's own header), so the header read is mapped.
        if (h->magic != kMagic || h->self != data) {
            c10::free_cpu(data);
            return;
        }
        if (h->cached) {
            std::lock_guard lock(m_mutex);
            if (m_cachedBytes + h->bytes <= m_limit) {
                m_free[h->bytes].push_back(h);
                m_cachedBytes += h->bytes;
                return;
            }
        }
        h->magic = 0;  // so that whoever gets this memory next is never taken for ours
        std::free(h);
    }

    void releaseAll() {
        std::unordered_map<std::size_t, std::vector<Header*>> kept;
        {
            std::lock_guard lock(m_mutex);
            kept.swap(m_free);
            m_cachedBytes = 0;
        }
        for (auto& [bytes, blocks] : kept)
            for (Header* h : blocks) {
                h->magic = 0;
                std::free(h);
            }
    }

    CpuAllocatorStats stats() {
        std::lock_guard lock(m_mutex);
        return {m_allocations, m_reused, m_cachedBytes, m_limit, true};
    }

private:
    static void release(void* data);

    std::mutex m_mutex;
    std::unordered_map<std::size_t, std::vector<Header*>> m_free;
    std::uint64_t m_cachedBytes = 0;
    std::uint64_t m_limit = 0;
    std::atomic<std::uint64_t> m_allocations{0};
    std::uint64_t m_reused = 0;
};

// Never destroyed: tensors freed during exit still find it.
CachingCpuAllocator* g_allocator = nullptr;
std::once_flag g_installed;

void CachingCpuAllocator::release(void* data) {
    if (data)
        g_allocator->free(data);
}

}  // namespace

void installCachingCpuAllocator() {
    std::call_once(g_installed, [] {
        g_allocator = new CachingCpuAllocator;
        c10::SetCPUAllocator(g_allocator, /*priority=*/100);
    });
}

void releaseCachedCpuMemory() {
    if (g_allocator)
        g_allocator->releaseAll();
}

CpuAllocatorStats cpuAllocatorStats() {
    return g_allocator ? g_allocator->stats() : CpuAllocatorStats{};
}

}  // namespace convscope
