#include "cuda/cudamodule.h"

#include <dlfcn.h>

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <system_error>

namespace convscope {

namespace {

struct Loaded {
    const CudaModuleApi* api = nullptr;
    CudaModuleStatus status;
};

#ifdef CONVSCOPE_CUDA_MODULE_BUILT
enum class Setting { Auto, On, Off };

// CONVSCOPE_CUDA; a value it does not know counts as unset.
Setting setting() {
    const char* value = std::getenv("CONVSCOPE_CUDA");
    std::string v = value ? value : "";
    for (char& c : v)
        c = char(std::tolower(static_cast<unsigned char>(c)));
    if (v == "off" || v == "0" || v == "false" || v == "no")
        return Setting::Off;
    if (v == "on" || v == "1" || v == "true" || v == "yes")
        return Setting::On;
    return Setting::Auto;
}

// Where the installed program keeps the module (CONVSCOPE_CUDA_MODULE_INSTALLED is relative to
// the program's folder), else where the build left it, for the build tree's programs and tests.
std::string modulePath() {
    std::error_code ec;
    const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (!ec) {
        const std::filesystem::path installed =
            self.parent_path() / CONVSCOPE_CUDA_MODULE_INSTALLED;
        if (std::filesystem::exists(installed, ec))
            return installed.lexically_normal().string();
    }
    return CONVSCOPE_CUDA_MODULE_BUILT;
}

Loaded load() {
    Loaded l;
    l.status.built = true;
    const Setting mode = setting();
    if (mode == Setting::Off) {
        l.status.detail = "CONVSCOPE_CUDA=off";
        return l;
    }
    if (mode != Setting::On) {
        // The driver's library is what every use of a GPU goes through; without it LibTorch
        // would find no GPU anyway. Kept open: the CUDA runtime opens it again when loaded.
        if (!::dlopen("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL)) {
            const char* error = ::dlerror();
            const std::string why = error ? error : "";
            l.status.detail = why.empty() || why.find("No such file") != std::string::npos
                                  ? "no NVIDIA driver on this machine (no libcuda.so.1)"
                                  : "no NVIDIA driver on this machine that loads (" + why + ")";
            return l;
        }
    }
    const std::string path = modulePath();
    // Global, as if linked: libraries that LibTorch opens later by name resolve against these.
    void* module = ::dlopen(path.c_str(), RTLD_LAZY | RTLD_GLOBAL);
    if (!module) {
        const char* why = ::dlerror();
        l.status.detail = std::string("the CUDA module cannot be loaded: ") +
                          (why ? why : path + " cannot be opened");
        return l;
    }
    using Entry = const CudaModuleApi* (*)();
    const auto entry = reinterpret_cast<Entry>(::dlsym(module, kCudaModuleEntry));
    const CudaModuleApi* api = entry ? entry() : nullptr;
    const std::string build = cudaModuleBuild(CONVSCOPE_CUDA_BUILD_ID);
    if (!api || api->abi != kCudaModuleAbi || !api->build || api->build != build) {
        l.status.detail = path + " is not this build's CUDA module (" + build + ")";
        return l;
    }
    l.api = api;
    l.status.loaded = true;
    l.status.detail = "loaded from " + path;
    return l;
}
#else
Loaded load() {
    Loaded l;
    l.status.detail = "this build is CPU only";
    return l;
}
#endif

const Loaded& loaded() {
    static const Loaded l = load();
    return l;
}

}  // namespace

const CudaModuleApi* cudaModule() {
    return loaded().api;
}

const CudaModuleStatus& cudaModuleStatus() {
    return loaded().status;
}

}  // namespace convscope

// Before main() and before anything asks LibTorch about CUDA: LibTorch settles which CUDA
// backend it has on the first question (torch::manual_seed asks one) and never looks again.
// Priority 101 runs it before the program's own static initialisers; convscope_core's users
// link this object whatever they call (--undefined, core/CMakeLists.txt).
extern "C" __attribute__((constructor(101))) void convscope_load_cuda_module() {
    convscope::cudaModuleStatus();
}
