#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace convscope {

/// ConvScope's version, from CMake's project() (for example "0.2.0").
const char* convscopeVersion();

/// "139.8 GiB": memory sizes in messages.
std::string gibibytesText(std::int64_t bytes);

/// Sets LibTorch's intra-op thread count to `threads` (0: every core) and keeps OpenCV
/// single-threaded inside our own worker pools. Call once at start-up, before any tensor work.
void configureThreads(int threads = 0);

/// LibTorch's current intra-op thread count.
int torchThreadCount();

/// Where tensors live: "auto" (the first GPU when there is one, else the CPU), "cpu", "cuda"
/// (the current GPU) or "cuda:N".
struct DeviceChoice {
    enum class Kind { Auto, Cpu, Cuda };
    Kind kind = Kind::Auto;
    int index = -1;  ///< cuda:N; -1 = the current GPU

    static DeviceChoice cpu() { return {Kind::Cpu, -1}; }
    static DeviceChoice cuda(int index = -1) { return {Kind::Cuda, index}; }
    bool operator==(const DeviceChoice&) const = default;
};

std::string deviceName(const DeviceChoice& d);  ///< "auto", "cpu", "cuda", "cuda:1"
/// Throws convscope::Error naming the accepted forms.
DeviceChoice parseDevice(const std::string& name);

/// Arithmetic precision of training and inference. Auto: bf16 autocast on GPUs that support
/// it (else fp16 with dynamic loss scaling) and on CPUs with AVX512_BF16 or AMX (else fp32).
/// Weights are always kept and saved in float32.
enum class Precision { Auto, Fp32, Bf16, Fp16 };
const char* precisionName(Precision p);  ///< "auto", "fp32", "bf16", "fp16"
Precision parsePrecision(const std::string& name);

struct CudaDeviceInfo {
    int index = 0;
    std::string name;
    std::int64_t memoryBytes = 0;
    std::string capability;  ///< "9.0"
    bool bf16 = false;
};

/// What this build and machine have, for `convscope info` and the About box.
struct RuntimeInfo {
    std::string version;
    std::string libtorch;       ///< "2.15.0"
    bool cudaCompiled = false;  ///< this build has its CUDA module (cuda/cudamodule.h)
    bool cudaLoaded = false;    ///< and loaded it: LibTorch's CUDA backend is there
    std::string cudaStatus;     ///< where it was loaded from, or why it was not
    std::vector<CudaDeviceInfo> cudaDevices;
    int cpuThreads = 0;
    bool cpuBf16 = false;  ///< AVX512_BF16 or AMX
    std::string cpuCapability;
    Precision cpuDefault = Precision::Fp32;   ///< what "auto" becomes on the CPU
    Precision cudaDefault = Precision::Bf16;  ///< what "auto" becomes on the first GPU
    /// Whether this build trains data-parallel (dist/dataparallel.h: Gloo on CPUs).
    bool dataParallel = false;
    bool dataParallelGpus = false;  ///< and between GPUs (NCCL)
};

/// Safe to call from any thread; queries the GPUs once per call.
RuntimeInfo runtimeInfo();
/// The `convscope info --json` object.
std::string runtimeInfoJson(const RuntimeInfo& info);
/// Readable lines for `convscope info` and the About box.
std::string runtimeInfoText(const RuntimeInfo& info);

/// What a run really uses once "auto" is settled. Throws convscope::Error when the choice
/// cannot be had (no CUDA device, an index past the last GPU, bf16 on a GPU without it).
struct ResolvedDevice {
    DeviceChoice device;  ///< Cpu, or Cuda with an index
    Precision precision = Precision::Fp32;
    std::string description;  ///< "CPU (16 threads)", "cuda:0 NVIDIA H200 (139.8 GiB)"
};
ResolvedDevice resolveDevice(const DeviceChoice& device, Precision precision);

}  // namespace convscope
