// libconvscope_cuda.so itself (see cudamodule.h): built only with CONVSCOPE_TORCH_CUDA, linked
// against LibTorch's CUDA libraries and nothing of ConvScope's. Loading it loads
// libtorch_cuda, whose static initialisers register the CUDA backend, kernels and caching
// allocator with LibTorch; the functions below are what ConvScope needs beyond those.
#include "cuda/cudamodule.h"
#include "runtime.h"

#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#include <cuda_runtime_api.h>
#if CONVSCOPE_HAVE_NCCL
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

namespace convscope {

namespace {

std::vector<CudaDeviceInfo> devices() {
    std::vector<CudaDeviceInfo> found;
    const int n = c10::cuda::device_count();
    for (int i = 0; i < n; ++i) {
        const cudaDeviceProp* p = at::cuda::getDeviceProperties(c10::DeviceIndex(i));
        CudaDeviceInfo d;
        d.index = i;
        d.name = p->name;
        d.memoryBytes = std::int64_t(p->totalGlobalMem);
        d.capability = std::to_string(p->major) + "." + std::to_string(p->minor);
        d.bf16 = p->major >= 8;  // Ampere and later compute in bf16
        found.push_back(d);
    }
    return found;
}

std::int64_t peakAllocatedBytes(int index) {
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(c10::DeviceIndex(index));
    return stats.allocated_bytes[0].peak;
}

void resetPeakAllocated(int index) {
    c10::cuda::CUDACachingAllocator::resetPeakStats(c10::DeviceIndex(index));
}

void releaseCached() {
    c10::cuda::CUDACachingAllocator::emptyCache();
}

std::int64_t freeBytes(int index) {
    std::size_t freeBytes = 0, totalBytes = 0;
    int previous = 0;
    if (cudaGetDevice(&previous) != cudaSuccess || cudaSetDevice(index) != cudaSuccess)
        return 0;
    const cudaError_t status = cudaMemGetInfo(&freeBytes, &totalBytes);
    cudaSetDevice(previous);
    return status == cudaSuccess ? std::int64_t(freeBytes) : 0;
}

#if CONVSCOPE_HAVE_NCCL
c10::intrusive_ptr<c10d::Backend> makeNcclBackend(const c10::intrusive_ptr<c10d::Store>& store,
                                                  int rank, int worldSize, int gpu,
                                                  std::chrono::milliseconds timeout) {
    c10::cuda::set_device(c10::DeviceIndex(gpu));
    auto options = c10d::ProcessGroupNCCL::Options::create();
    options->timeout = timeout;
    return c10::make_intrusive<c10d::ProcessGroupNCCL>(
        c10::make_intrusive<c10d::PrefixStore>("nccl/", store), rank, worldSize, options);
}
#endif

}  // namespace

}  // namespace convscope

extern "C" __attribute__((visibility("default"))) const convscope::CudaModuleApi*
convscope_cuda_module() {
    static const convscope::CudaModuleApi api = [] {
        convscope::CudaModuleApi a;
        a.abi = convscope::kCudaModuleAbi;
        static const std::string build = convscope::cudaModuleBuild(CONVSCOPE_CUDA_BUILD_ID);
        a.build = build.c_str();
        a.devices = &convscope::devices;
        a.peakAllocatedBytes = &convscope::peakAllocatedBytes;
        a.resetPeakAllocated = &convscope::resetPeakAllocated;
        a.releaseCached = &convscope::releaseCached;
        a.freeBytes = &convscope::freeBytes;
#if CONVSCOPE_HAVE_NCCL
        a.makeNcclBackend = &convscope::makeNcclBackend;
#endif
        return a;
    }();
    return &api;
}
