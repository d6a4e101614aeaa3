#include "train/precision.h"

#include "cuda/cudamodule.h"
#include "models/classifier.h"

#include <ATen/autocast_mode.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <string>

namespace convscope {

namespace {

std::atomic<std::int64_t> g_trainingSteps{0};

std::int64_t environmentInteger(const char* name, std::int64_t fallback) {
    const char* text = std::getenv(name);
    if (!text || !*text)
        return fallback;
    char* end = nullptr;
    const long long v = std::strtoll(text, &end, 10);
    return end && *end == '\0' ? std::int64_t(v) : fallback;
}

c10::ScalarType autocastType(Precision p) {
    return p == Precision::Fp16 ? c10::ScalarType::Half : c10::ScalarType::BFloat16;
}

}  // namespace

torch::Device torchDevice(const DeviceChoice& resolved) {
    if (resolved.kind == DeviceChoice::Kind::Cuda)
        return torch::Device(torch::kCUDA, c10::DeviceIndex(std::max(0, resolved.index)));
    return torch::Device(torch::kCPU);
}

AutocastScope::AutocastScope(const torch::Device& device, Precision precision)
    : m_type(device.type()) {
    if (precision != Precision::Bf16 && precision != Precision::Fp16)
        return;
    m_active = true;
    m_wasEnabled = at::autocast::is_autocast_enabled(m_type);
    m_previousType = at::autocast::get_autocast_dtype(m_type);
    at::autocast::set_autocast_enabled(m_type, true);
    at::autocast::set_autocast_dtype(m_type, autocastType(precision));
    at::autocast::increment_nesting();
}

AutocastScope::~AutocastScope() {
    if (!m_active)
        return;
    // As torch.autocast's __exit__: the cast-weight cache lives until the outermost scope ends.
    if (at::autocast::decrement_nesting() == 0)
        at::autocast::clear_cache();
    at::autocast::set_autocast_enabled(m_type, m_wasEnabled);
    at::autocast::set_autocast_dtype(m_type, m_previousType);
}

LossScaler::LossScaler(bool enabled, double initialScale, int growthInterval)
    : m_enabled(enabled), m_scale(initialScale), m_growthInterval(growthInterval) {}

torch::Tensor LossScaler::scaled(const torch::Tensor& loss) const {
    return m_enabled ? loss * m_scale : loss;
}

bool LossScaler::unscale(const std::vector<torch::Tensor>& params) const {
    if (!m_enabled)
        return true;
    torch::NoGradGuard noGrad;
    std::vector<torch::Tensor> grads;
    for (const auto& p : params)
        if (p.grad().defined())
            grads.push_back(p.grad());
    if (grads.empty())
        return true;
    torch::_foreach_mul_(grads, 1.0 / m_scale);
    // One reduction and one host sync per step, as GradScaler does.
    std::vector<torch::Tensor> finite;
    finite.reserve(grads.size());
    for (const auto& g : grads)
        finite.push_back(torch::isfinite(g).all());
    return torch::stack(finite).all().item<bool>();
}

void LossScaler::update(bool finite) {
    if (!m_enabled)
        return;
    if (!finite) {
        m_scale = std::max(1.0, m_scale * 0.5);
        m_cleanSteps = 0;
    } else if (++m_cleanSteps >= m_growthInterval) {
        m_scale = std::min(m_scale * 2.0, 16777216.0);
        m_cleanSteps = 0;
    }
}

void countTrainingStep() {
    ++g_trainingSteps;
}

void injectOutOfMemoryIfAsked(std::int64_t rows) {
    static const std::int64_t limit = environmentInteger("CONVSCOPE_FAULT_OOM_ROWS", -1);
    static const std::int64_t after = environmentInteger("CONVSCOPE_FAULT_OOM_AFTER_STEPS", 0);
    if (limit < 0 || rows <= limit || g_trainingSteps.load() < after)
        return;
    TORCH_CHECK_WITH(OutOfMemoryError, false,
                     "out of memory (injected by CONVSCOPE_FAULT_OOM_ROWS=", limit,
                     ") for a batch of ", rows, " images");
}

// A tensor on a GPU means the CUDA module is loaded (cuda/cudamodule.h): it holds the caching
// allocator's functions.
void releaseCachedDeviceMemory(const torch::Device& device) {
    if (const CudaModuleApi* cuda = cudaModule(); cuda && device.is_cuda())
        cuda->releaseCached();
}

std::int64_t peakDeviceMemoryBytes(const torch::Device& device) {
    const CudaModuleApi* cuda = cudaModule();
    return cuda && device.is_cuda() ? cuda->peakAllocatedBytes(device.index()) : 0;
}

void resetPeakDeviceMemory(const torch::Device& device) {
    if (const CudaModuleApi* cuda = cudaModule(); cuda && device.is_cuda())
        cuda->resetPeakAllocated(device.index());
}

std::int64_t freeDeviceMemoryBytes(const torch::Device& device) {
    const CudaModuleApi* cuda = cudaModule();
    return cuda && device.is_cuda() ? cuda->freeBytes(device.index()) : 0;
}

void probeTrainingStep(ClassifierImpl& model, std::int64_t rows, int inputSize,
                       const torch::Device& device, Precision precision, bool channelsLast) {
    injectOutOfMemoryIfAsked(rows);
    // Batch norm updates its running statistics in a training forward pass: keep them.
    std::vector<torch::Tensor> buffers, saved;
    for (auto& b : model.buffers()) {
        buffers.push_back(b);
        saved.push_back(b.clone());
    }
    std::vector<torch::Tensor> gradsBefore;
    for (auto& p : model.parameters())
        gradsBefore.push_back(p.grad().defined() ? p.grad().clone() : torch::Tensor());
    const bool wasTraining = model.is_training();
    model.train();
    auto restore = [&] {
        torch::NoGradGuard noGrad;
        for (std::size_t i = 0; i < buffers.size(); ++i)
            buffers[i].copy_(saved[i]);
        std::size_t i = 0;
        for (auto& p : model.parameters())
            p.mutable_grad() = gradsBefore[i++];
        model.train(wasTraining);
    };
    try {
        auto x = torch::randn({rows, 3, inputSize, inputSize}, torch::TensorOptions(device));
        if (channelsLast)
            x = x.contiguous(torch::MemoryFormat::ChannelsLast);
        const auto y = torch::zeros({rows}, torch::TensorOptions(device).dtype(torch::kInt64));
        torch::Tensor loss;
        {
            AutocastScope autocast(device, precision);
            loss = torch::nn::functional::cross_entropy(model.forward(x), y);
        }
        loss.backward();
    } catch (...) {
        restore();
        throw;
    }
    restore();
}

int largestFittingBatch(ClassifierImpl& model, int upTo, int inputSize, const torch::Device& device,
                        Precision precision, bool channelsLast, double memoryFraction) {
    const std::int64_t budget =
        std::int64_t(double(freeDeviceMemoryBytes(device)) * memoryFraction);
    int best = 0;
    // From two images: batch norm cannot train on one image whose maps end at 1x1.
    for (int rows = std::min(2, upTo); rows <= upTo; rows *= 2) {
        try {
            resetPeakDeviceMemory(device);
            probeTrainingStep(model, rows, inputSize, device, precision, channelsLast);
        } catch (const c10::OutOfMemoryError&) {
            releaseCachedDeviceMemory(device);
            break;
        }
        if (device.is_cuda() && peakDeviceMemoryBytes(device) > budget)
            break;
        best = rows;
        if (rows > upTo / 2)
            break;
    }
    releaseCachedDeviceMemory(device);
    return best;
}

}  // namespace convscope
