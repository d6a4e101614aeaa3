#include "util/cpuallocator.h"

#include <gtest/gtest.h>
#include <c10/core/CPUAllocator.h>
#include <c10/core/impl/alloc_cpu.h>
#include <torch/torch.h>

#include <cstring>

using namespace convscope;

namespace {

void installOnce() {
    installCachingCpuAllocator();
    installCachingCpuAllocator();  // idempotent
    releaseCachedCpuMemory();
}

}  // namespace

TEST(CachingCpuAllocator, aFreedLargeBlockServesTheNextTensorOfItsSize) {
    installOnce();
    const CpuAllocatorStats before = cpuAllocatorStats();
    ASSERT_TRUE(before.installed);
    EXPECT_GT(before.limitBytes, 0u);
    void* first = nullptr;
    {
        torch::Tensor t = torch::empty({32, 32, 148, 148}, torch::kBFloat16);
        first = t.data_ptr();
        EXPECT_EQ(reinterpret_cast<std::uintptr_t>(first) % 64, 0u);
        t.fill_(1);
    }
    EXPECT_GE(cpuAllocatorStats().cachedBytes, 32u * 32 * 148 * 148 * 2);
    torch::Tensor again = torch::empty({32, 32, 148, 148}, torch::kBFloat16);
    EXPECT_EQ(again.data_ptr(), first);
    const CpuAllocatorStats after = cpuAllocatorStats();
    EXPECT_EQ(after.reused, before.reused + 1);
    // A slightly smaller tensor (the last batch of an epoch) falls in the same size class.
    again = torch::Tensor();
    torch::Tensor smaller = torch::empty({31, 32, 148, 148}, torch::kBFloat16);
    EXPECT_EQ(smaller.data_ptr(), first);
}

TEST(CachingCpuAllocator, resultsAreThoseOfTheDefaultAllocator) {
    installOnce();
    torch::manual_seed(3);
    const torch::Tensor a = torch::randn({256, 300});
    const torch::Tensor b = torch::randn({300, 200});
    const torch::Tensor expected = torch::matmul(a, b);
    for (int i = 0; i < 3; ++i) {  // blocks reused, contents overwritten
        const torch::Tensor product = torch::matmul(a, b);
        EXPECT_TRUE(torch::equal(product, expected));
    }
    const torch::Tensor small = torch::arange(10);
    EXPECT_EQ(small.sum().item<std::int64_t>(), 45);
}

TEST(CachingCpuAllocator, releaseGivesEveryKeptBlockBack) {
    installOnce();
    { torch::Tensor t = torch::empty({4 << 20}, torch::kFloat); }
    EXPECT_GE(cpuAllocatorStats().cachedBytes, std::uint64_t(16) << 20);
    releaseCachedCpuMemory();
    EXPECT_EQ(cpuAllocatorStats().cachedBytes, 0u);
    // Small tensors are never kept.
    { torch::Tensor t = torch::empty({100}, torch::kFloat); }
    EXPECT_EQ(cpuAllocatorStats().cachedBytes, 0u);
}

TEST(CachingCpuAllocator, rawAllocationsWorkThroughItsDeleter) {
    installOnce();
    c10::Allocator* allocator = c10::GetCPUAllocator();
    void* p = allocator->raw_allocate(1 << 20);
    ASSERT_NE(p, nullptr);
    std::memset(p, 7, 1 << 20);
    allocator->raw_deallocate(p);
    void* q = allocator->raw_allocate(1 << 20);
    EXPECT_EQ(q, p);
    allocator->raw_deallocate(q);
}

TEST(CachingCpuAllocator, aBlockOfTheDefaultAllocatorFreedThroughItGoesBackTheWayItCame) {
    // oneDNN frees its buffers with the allocator installed at that moment, which may not be
    // the one that made them (seen as "double free or corruption" in a window test).
    installOnce();
    for (std::size_t bytes : {std::size_t(100), std::size_t(1) << 20, std::size_t(64) << 20}) {
        void* p = c10::alloc_cpu(bytes);
        std::memset(p, 0x43, bytes);
        c10::GetCPUAllocator()->raw_deallocate(p);
    }
    // A block of ours given back to the system is never taken for ours again.
    c10::Allocator* allocator = c10::GetCPUAllocator();
    void* ours = allocator->raw_allocate(300);
    allocator->raw_deallocate(ours);
    void* other = c10::alloc_cpu(300);
    allocator->raw_deallocate(other);
}
