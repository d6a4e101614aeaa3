#pragma once

#include "runtime.h"

#include <c10/util/intrusive_ptr.h>
#include <torch/version.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace c10d {
class Backend;
class Store;
}  // namespace c10d

namespace convscope {

/// ConvScope's GPU side lives in a module of its own, libconvscope_cuda.so: the one piece of
/// ConvScope that links LibTorch's CUDA libraries (libtorch_cuda and the 3 GB of cuDNN,
/// cuBLAS, NCCL... behind it). Loading those cost every start of `convscope` about 0.19 s of
/// its 0.44 s, GPU or not. The program now opens the module before main() runs, and only where
/// an NVIDIA driver is installed (libcuda.so.1 opens); libtorch_cuda registers the GPU backend
/// with LibTorch as it loads, so nothing else changes where there is a GPU.
///
/// CONVSCOPE_CUDA in the environment: "off" (or 0, false, no) never loads it, "on" (1, true,
/// yes) loads it without a driver too (to check the module on a machine without a GPU), unset
/// or "auto" is the rule above.

/// The module's functions. Its `abi` must equal kCudaModuleAbi and its `build` the program's
/// cudaModuleBuild(): a module from another build is refused, not trusted.
struct CudaModuleApi {
    int abi = 0;
    const char* build = nullptr;
    /// The GPUs that are visible, with name, memory and compute capability.
    std::vector<CudaDeviceInfo> (*devices)() = nullptr;
    /// The caching allocator of GPU `index`: the peak of its allocated bytes, and resetting
    /// that peak; giving its unused blocks back to the driver (every GPU).
    std::int64_t (*peakAllocatedBytes)(int index) = nullptr;
    void (*resetPeakAllocated)(int index) = nullptr;
    void (*releaseCached)() = nullptr;
    /// The driver's free memory on GPU `index`; 0 when it cannot say.
    std::int64_t (*freeBytes)(int index) = nullptr;
    /// A NCCL backend for c10d on GPU `gpu` (made the current device), or nullptr where the
    /// module was built without NCCL's header. Throws as ProcessGroupNCCL does.
    c10::intrusive_ptr<c10d::Backend> (*makeNcclBackend)(
        const c10::intrusive_ptr<c10d::Store>& store, int rank, int worldSize, int gpu,
        std::chrono::milliseconds timeout) = nullptr;
};

inline constexpr int kCudaModuleAbi = 2;

/// What the program and the module must agree on beyond the layout of CudaModuleApi:
/// ConvScope's version (CMake passes it to both), LibTorch's, and the size of what crosses.
inline std::string cudaModuleBuild(const char* convscopeVersion) {
    return std::string("ConvScope ") + convscopeVersion + ", LibTorch " + TORCH_VERSION + ", " +
           std::to_string(sizeof(CudaModuleApi)) + "/" + std::to_string(sizeof(CudaDeviceInfo));
}

/// The name of the function the module exports, returning its CudaModuleApi.
inline constexpr const char* kCudaModuleEntry = "convscope_cuda_module";

struct CudaModuleStatus {
    bool built = false;   ///< this build has a CUDA module (CONVSCOPE_TORCH_CUDA)
    bool loaded = false;  ///< and it is loaded: LibTorch's CUDA backend is registered
    /// "loaded from PATH", or why not: "no NVIDIA driver on this machine (no libcuda.so.1)",
    /// "CONVSCOPE_CUDA=off", "this build is CPU only", the loader's error.
    std::string detail;
};

/// The loaded module, or nullptr (cudaModuleStatus() says why). Thread-safe; it is settled
/// before main() runs and never changes afterwards.
const CudaModuleApi* cudaModule();
const CudaModuleStatus& cudaModuleStatus();

}  // namespace convscope
