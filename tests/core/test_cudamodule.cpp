// The CUDA module (core/cuda/cudamodule.h): LibTorch's CUDA libraries are loaded at start where
// there is an NVIDIA driver or CONVSCOPE_CUDA=on, never with CONVSCOPE_CUDA=off, and once loaded
// LibTorch has its whole CUDA backend, as when they were linked. CTest runs this with
// CONVSCOPE_CUDA "auto", "on", "off", "FALSE" and "1"; the expectations follow from that and from
// whether this machine has a driver (libcuda.so.1), so each run checks what it can here and a GPU
// machine checks the rest.
#include "cuda/cudamodule.h"
#include "dist/dataparallel.h"
#include "error.h"
#include "runtime.h"
#include "train/precision.h"

#include <gtest/gtest.h>

#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <c10/core/Allocator.h>
#include <torch/torch.h>

#include <dlfcn.h>

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <string>

using namespace convscope;

namespace {

// CONVSCOPE_CUDA as the loader reads it: any case, and 1/true/yes, 0/false/no too.
[[maybe_unused]] std::string setting() {
    const char* value = std::getenv("CONVSCOPE_CUDA");
    std::string v = value ? value : "";
    for (char& c : v)
        c = char(std::tolower(static_cast<unsigned char>(c)));
    if (v == "on" || v == "1" || v == "true" || v == "yes")
        return "on";
    if (v == "off" || v == "0" || v == "false" || v == "no")
        return "off";
    return "auto";
}

[[maybe_unused]] bool machineHasDriver() {
    return ::dlopen("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL) != nullptr;
}

bool libraryMapped(const std::string& name) {
    std::ifstream maps("/proc/self/maps");
    std::string line;
    while (std::getline(maps, line))
        if (line.find("/" + name) != std::string::npos)
            return true;
    return false;
}

bool shouldBeLoaded() {
#ifdef CONVSCOPE_TEST_CUDA_BUILT
    return setting() == "on" || (setting() != "off" && machineHasDriver());
#else
    return false;
#endif
}

bool addHasCudaKernel() {
    const auto op = c10::Dispatcher::singleton().findSchema({"aten::add", "Tensor"});
    return op && op->hasKernelForDispatchKey(c10::DispatchKey::CUDA);
}

}  // namespace

// First, before anything of ConvScope's is called: LibTorch settles its CUDA hooks on the
// first question, so the module must have registered them before main().
TEST(CudaModule, IsThereBeforeLibTorchIsFirstAsked) {
    torch::manual_seed(7);
    EXPECT_EQ(at::detail::getCUDAHooks().isBuilt(), shouldBeLoaded());
    EXPECT_EQ(addHasCudaKernel(), shouldBeLoaded());
}

TEST(CudaModule, LoadsExactlyWhenItShould) {
    const CudaModuleStatus& status = cudaModuleStatus();
#ifdef CONVSCOPE_TEST_CUDA_BUILT
    EXPECT_TRUE(status.built);
#else
    EXPECT_FALSE(status.built);
    EXPECT_EQ(status.detail, "this build is CPU only");
#endif
    EXPECT_EQ(status.loaded, shouldBeLoaded()) << status.detail;
    EXPECT_EQ(cudaModule() != nullptr, status.loaded);
    EXPECT_EQ(libraryMapped("libtorch_cuda.so"), status.loaded) << status.detail;
    EXPECT_EQ(libraryMapped("libconvscope_cuda.so"), status.loaded) << status.detail;
#ifdef CONVSCOPE_TEST_CUDA_BUILT
    if (status.loaded) {
        EXPECT_EQ(status.detail.rfind("loaded from /", 0), 0u) << status.detail;
    } else if (setting() == "off") {
        EXPECT_EQ(status.detail, "CONVSCOPE_CUDA=off");
    } else {
        EXPECT_NE(status.detail.find("no NVIDIA driver on this machine"), std::string::npos)
            << status.detail;
    }
#endif
}

TEST(CudaModule, LibTorchHasItsWholeCudaBackendExactlyWhenLoaded) {
    if (!cudaModuleStatus().loaded) {
        // Nothing of CUDA is half there either.
        EXPECT_FALSE(at::detail::getCUDAHooks().isBuilt());
        EXPECT_FALSE(addHasCudaKernel());
        EXPECT_FALSE(torch::cuda::is_available());
        EXPECT_TRUE(runtimeInfo().cudaDevices.empty());
        EXPECT_FALSE(dataParallelOnGpusAvailable());  // NCCL is in the CUDA libraries
        return;
    }
    // Asked only now, after the module registered itself before main().
    EXPECT_TRUE(at::detail::getCUDAHooks().isBuilt());
    EXPECT_GT(at::detail::getCUDAHooks().versionCUDART(), 0);
    EXPECT_TRUE(addHasCudaKernel());
    EXPECT_NO_THROW(c10::GetAllocator(c10::DeviceType::CUDA));
    const CudaModuleApi* cuda = cudaModule();
    ASSERT_NE(cuda, nullptr);
    EXPECT_EQ(cuda->abi, kCudaModuleAbi);
    ASSERT_NE(cuda->build, nullptr);
    EXPECT_NE(std::string(cuda->build).find(std::string("LibTorch ") + TORCH_VERSION),
              std::string::npos)
        << cuda->build;
    for (auto f :
         {(void*)cuda->devices, (void*)cuda->peakAllocatedBytes, (void*)cuda->resetPeakAllocated,
          (void*)cuda->releaseCached, (void*)cuda->freeBytes})
        EXPECT_NE(f, nullptr);
    // As the GPUs are: none without a driver, and then nothing to ask the allocator about.
    const RuntimeInfo info = runtimeInfo();
    EXPECT_TRUE(info.cudaLoaded);
    EXPECT_EQ(info.cudaDevices.size(), std::size_t(torch::cuda::device_count()));
    if (info.cudaDevices.empty())
        EXPECT_EQ(cuda->freeBytes(0), 0);  // the driver's answer, read safely
    else
        EXPECT_GT(freeDeviceMemoryBytes(torch::Device(torch::kCUDA, 0)), 0);
#ifdef CONVSCOPE_TEST_NCCL
    EXPECT_NE(cuda->makeNcclBackend, nullptr);
#else
    EXPECT_EQ(cuda->makeNcclBackend, nullptr);
#endif
}

TEST(CudaModule, AskingForAGpuWithoutOneSaysWhy) {
    if (!runtimeInfo().cudaDevices.empty())
        GTEST_SKIP() << "this machine has a GPU";
    try {
        resolveDevice(DeviceChoice::cuda(), Precision::Auto);
        FAIL() << "--device cuda resolved without a GPU";
    } catch (const Error& e) {
        const std::string message = e.what();
        EXPECT_NE(message.find("no CUDA device is available: "), std::string::npos) << message;
        EXPECT_NE(message.find(cudaModuleStatus().loaded ? "LibTorch sees no GPU"
                                                         : cudaModuleStatus().detail),
                  std::string::npos)
            << message;
    }
    // The CPU is untouched by all of this.
    EXPECT_EQ(resolveDevice(DeviceChoice{}, Precision::Fp32).device, DeviceChoice::cpu());
    EXPECT_EQ(freeDeviceMemoryBytes(torch::Device(torch::kCPU)), 0);
}
