#pragma once

#include "runtime.h"

#include <torch/torch.h>

#include <cstdint>
#include <functional>

namespace convscope {

class ClassifierImpl;

/// The LibTorch device of a resolved choice (resolveDevice() in runtime.h).
torch::Device torchDevice(const DeviceChoice& resolved);

/// Autocast on `device` in `precision` for the calling thread while the scope lives (the
/// state is thread-local). Fp32 and Auto do nothing: resolve Auto first.
class AutocastScope {
public:
    AutocastScope(const torch::Device& device, Precision precision);
    ~AutocastScope();
    AutocastScope(const AutocastScope&) = delete;
    AutocastScope& operator=(const AutocastScope&) = delete;

private:
    c10::DeviceType m_type = c10::DeviceType::CPU;
    bool m_active = false;
    bool m_wasEnabled = false;
    c10::ScalarType m_previousType = c10::ScalarType::Float;
};

/// Dynamic loss scaling for fp16 (what torch.amp.GradScaler does): the loss is multiplied by
/// a scale before backward; gradients are divided by it before the step; a step whose
/// gradients hold inf or NaN is skipped and the scale halves; after `growthInterval` clean
/// steps it doubles. Disabled, it passes everything through.
class LossScaler {
public:
    explicit LossScaler(bool enabled, double initialScale = 65536.0, int growthInterval = 2000);

    bool enabled() const { return m_enabled; }
    double scale() const { return m_scale; }
    torch::Tensor scaled(const torch::Tensor& loss) const;
    /// Unscales the gradients of `params` in place; false when any is not finite (then the
    /// caller skips the optimizer step).
    bool unscale(const std::vector<torch::Tensor>& params) const;
    void update(bool finite);

private:
    bool m_enabled;
    double m_scale;
    int m_growthInterval;
    int m_cleanSteps = 0;
};

/// Fault injection for tests, from the environment (never set in normal use):
/// CONVSCOPE_FAULT_OOM_ROWS=N makes every training forward pass of more than N images throw
/// LibTorch's out-of-memory error, once CONVSCOPE_FAULT_OOM_AFTER_STEPS=K (default 0)
/// training steps have run in this process. Lets the CPU-only CI test the GPU's OOM path.
void countTrainingStep();
void injectOutOfMemoryIfAsked(std::int64_t rows);

/// Frees what the GPU's caching allocator holds (after an out-of-memory error).
void releaseCachedDeviceMemory(const torch::Device& device);
/// Peak bytes allocated on `device` since the last reset (0 on the CPU).
std::int64_t peakDeviceMemoryBytes(const torch::Device& device);
void resetPeakDeviceMemory(const torch::Device& device);
/// Free bytes on a GPU (0 on the CPU).
std::int64_t freeDeviceMemoryBytes(const torch::Device& device);

/// One forward and backward pass at `rows` x 3 x size x size of random input; the model's
/// weights, buffers and gradients are left as they were. Throws what LibTorch throws.
void probeTrainingStep(ClassifierImpl& model, std::int64_t rows, int inputSize,
                       const torch::Device& device, Precision precision, bool channelsLast);

/// The largest power of two <= `upTo` whose training step fits: on a GPU without an
/// out-of-memory error and within `memoryFraction` of the memory free at the start; on the
/// CPU only the (injected) out-of-memory error limits it. Tries from 2 images (1 only
/// when `upTo` is 1); 0 when none fits.
int largestFittingBatch(ClassifierImpl& model, int upTo, int inputSize, const torch::Device& device,
                        Precision precision, bool channelsLast, double memoryFraction = 0.8);

}  // namespace convscope
