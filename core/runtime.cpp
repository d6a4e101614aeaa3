#include "runtime.h"

#include "cuda/cudamodule.h"
#include "dist/dataparallel.h"
#include "error.h"
#include "util/cpuallocator.h"
#include "util/enumnames.h"
#include "util/parallel.h"

#include <opencv2/core.hpp>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <ATen/Version.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#ifndef CONVSCOPE_VERSION
#error "CONVSCOPE_VERSION comes from CMake's project() version"
#endif

namespace convscope {

namespace {

const EnumName<Precision> kPrecisions[] = {{Precision::Auto, "auto"},
                                           {Precision::Fp32, "fp32"},
                                           {Precision::Bf16, "bf16"},
                                           {Precision::Fp16, "fp16"}};

// /proc/cpuinfo's flags: LibTorch's own bf16 query moved between 2.x releases, and the GPU
// check machine runs an older one. Read once: they do not change while the program runs.
bool cpuHasBf16() {
    static const bool bf16 = [] {
        std::ifstream in("/proc/cpuinfo");
        std::string line;
        while (std::getline(in, line)) {
            if (line.rfind("flags", 0) != 0)
                continue;
            std::istringstream words(line);
            std::string w;
            while (words >> w)
                if (w == "avx512_bf16" || w == "amx_bf16")
                    return true;
            return false;
        }
        return false;
    }();
    return bf16;
}

// What "auto" means: bf16 where the hardware computes in it; otherwise fp16 with loss
// scaling on a GPU, fp32 on the CPU.
Precision autoPrecision(const CudaDeviceInfo& gpu) {
    return gpu.bf16 ? Precision::Bf16 : Precision::Fp16;
}

Precision autoCpuPrecision() {
    return cpuHasBf16() ? Precision::Bf16 : Precision::Fp32;
}

std::vector<CudaDeviceInfo> queryCudaDevices() {
    const CudaModuleApi* cuda = cudaModule();
    return cuda ? cuda->devices() : std::vector<CudaDeviceInfo>{};
}

}  // namespace

std::string gibibytesText(std::int64_t bytes) {
    char text[32];
    std::snprintf(text, sizeof text, "%.1f GiB", double(bytes) / double(1ll << 30));
    return text;
}

const char* convscopeVersion() {
    return CONVSCOPE_VERSION;
}

void configureThreads(int threads) {
    installCachingCpuAllocator();
    const int n = threads > 0 ? threads : defaultThreadCount();
    torch::set_num_threads(n);
    cv::setNumThreads(0);
}

int torchThreadCount() {
    return torch::get_num_threads();
}

std::string deviceName(const DeviceChoice& d) {
    switch (d.kind) {
        case DeviceChoice::Kind::Auto:
            return "auto";
        case DeviceChoice::Kind::Cpu:
            return "cpu";
        case DeviceChoice::Kind::Cuda:
            return d.index < 0 ? "cuda" : "cuda:" + std::to_string(d.index);
    }
    return "auto";
}

DeviceChoice parseDevice(const std::string& name) {
    if (name == "auto")
        return {};
    if (name == "cpu")
        return DeviceChoice::cpu();
    if (name == "cuda")
        return DeviceChoice::cuda();
    if (name.rfind("cuda:", 0) == 0 && name.size() > 5 && name.size() < 9 &&
        name.find_first_not_of("0123456789", 5) == std::string::npos)
        return DeviceChoice::cuda(std::stoi(name.substr(5)));
    throw Error("device", "unknown '" + name + "' (auto, cpu, cuda, cuda:N)");
}

const char* precisionName(Precision p) {
    return enumName(p, kPrecisions);
}

Precision parsePrecision(const std::string& name) {
    return parseEnum(name, kPrecisions, "precision");
}

RuntimeInfo runtimeInfo() {
    RuntimeInfo info;
    info.version = convscopeVersion();
    info.libtorch = TORCH_VERSION;
    info.cudaCompiled = cudaModuleStatus().built;
    info.cudaLoaded = cudaModuleStatus().loaded;
    info.cudaStatus = cudaModuleStatus().detail;
    info.cudaDevices = queryCudaDevices();
    info.cpuThreads = torchThreadCount();
    info.cpuBf16 = cpuHasBf16();
    info.cpuCapability = at::get_cpu_capability();
    info.cpuDefault = autoCpuPrecision();
    info.cudaDefault =
        info.cudaDevices.empty() ? Precision::Bf16 : autoPrecision(info.cudaDevices.front());
    info.dataParallel = dataParallelAvailable();
    info.dataParallelGpus = dataParallelOnGpusAvailable();
    return info;
}

std::string runtimeInfoJson(const RuntimeInfo& info) {
    nlohmann::json devices = nlohmann::json::array();
    for (const CudaDeviceInfo& d : info.cudaDevices)
        devices.push_back({{"index", d.index},
                           {"name", d.name},
                           {"memory_bytes", d.memoryBytes},
                           {"capability", d.capability}});
    const nlohmann::json j{
        {"version", info.version},
        {"libtorch", info.libtorch},
        {"cuda_compiled", info.cudaCompiled},
        {"cuda_loaded", info.cudaLoaded},
        {"cuda_status", info.cudaStatus},
        {"cuda_devices", devices},
        {"cpu",
         {{"threads", info.cpuThreads},
          {"bf16", info.cpuBf16},
          {"capability", info.cpuCapability}}},
        {"precision_default",
         {{"cpu", precisionName(info.cpuDefault)}, {"cuda", precisionName(info.cudaDefault)}}},
        {"data_parallel", info.dataParallel},
        {"data_parallel_gpus", info.dataParallelGpus},
    };
    return j.dump(2);
}

std::string runtimeInfoText(const RuntimeInfo& info) {
    std::string s = "ConvScope " + info.version + "\n";
    s += "LibTorch " + info.libtorch + (info.cudaCompiled ? " (built with CUDA)" : " (CPU only)") +
         "\n";
    if (info.cudaCompiled)
        s += "CUDA: " + std::string(info.cudaLoaded ? "" : "not loaded, ") + info.cudaStatus + "\n";
    s += "CPU: " + std::to_string(info.cpuThreads) + " threads, " + info.cpuCapability +
         (info.cpuBf16 ? ", bf16" : ", no bf16") +
         "; precision auto = " + precisionName(info.cpuDefault) + "\n";
    s += std::string("Data-parallel training: ") +
         (!info.dataParallel      ? "no (built without Gloo's headers)\n"
          : info.dataParallelGpus ? "yes (c10d: Gloo between CPU processes, NCCL between GPUs)\n"
          : info.cudaLoaded || !info.cudaCompiled
              ? "yes (c10d: Gloo between CPU processes; no NCCL in this build)\n"
              : "yes (c10d: Gloo between CPU processes; NCCL between GPUs once CUDA loads)\n");
    if (info.cudaDevices.empty())
        s += "GPU: none found\n";
    for (const CudaDeviceInfo& d : info.cudaDevices)
        s += "GPU cuda:" + std::to_string(d.index) + ": " + d.name + ", " +
             gibibytesText(d.memoryBytes) + ", compute capability " + d.capability +
             "; precision auto = " + precisionName(autoPrecision(d)) + "\n";
    return s;
}

ResolvedDevice resolveDevice(const DeviceChoice& device, Precision precision) {
    ResolvedDevice r;
    const bool wantsCuda = device.kind == DeviceChoice::Kind::Cuda;
    std::vector<CudaDeviceInfo> gpus;
    if (device.kind != DeviceChoice::Kind::Cpu)
        gpus = queryCudaDevices();
    if (wantsCuda && gpus.empty()) {
        const CudaModuleStatus& cuda = cudaModuleStatus();
        throw Error("--device " + deviceName(device),
                    "no CUDA device is available: " +
                        (cuda.loaded ? std::string("LibTorch sees no GPU (check the driver "
                                                   "version and CUDA_VISIBLE_DEVICES)")
                                     : cuda.detail) +
                        "; use --device cpu or auto");
    }
    if (!gpus.empty() && device.index >= int(gpus.size()))
        throw Error("--device " + deviceName(device),
                    "there are " + std::to_string(gpus.size()) +
                        " CUDA devices (cuda:0 to cuda:" + std::to_string(gpus.size() - 1) + ")");
    if (!gpus.empty()) {
        const CudaDeviceInfo& g = gpus[std::size_t(std::max(0, device.index))];
        r.device = DeviceChoice::cuda(g.index);
        r.description = "cuda:" + std::to_string(g.index) + " " + g.name + " (" +
                        gibibytesText(g.memoryBytes) + ")";
        r.precision = precision != Precision::Auto ? precision : autoPrecision(g);
        if (r.precision == Precision::Bf16 && !g.bf16)
            throw Error("--precision bf16", g.name + " (compute capability " + g.capability +
                                                ") has no bf16 arithmetic; use fp16 or fp32");
    } else {
        r.device = DeviceChoice::cpu();
        r.description = "CPU (" + std::to_string(torchThreadCount()) + " threads, " +
                        at::get_cpu_capability() + ")";
        r.precision = precision != Precision::Auto ? precision : autoCpuPrecision();
    }
    return r;
}

}  // namespace convscope
