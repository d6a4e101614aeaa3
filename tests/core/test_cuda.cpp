// The GPU path: device resolution, GPU/CPU parity of every architecture, autocast and loss
// scaling, and the batch probe. Tests that need a GPU skip (GTEST_SKIP, reported) without one;
// tests/device/run runs them on a GPU machine.
#include "cuda/cudamodule.h"
#include "error.h"
#include "models/classifier.h"
#include "runtime.h"
#include "train/precision.h"

#include <gtest/gtest.h>

#include <torch/torch.h>

#include <dlfcn.h>

using namespace convscope;

namespace {

bool haveGpu() {
    return !runtimeInfo().cudaDevices.empty();
}

Classifier smallNet(Architecture a, int size) {
    ModelConfig c;
    c.architecture = a;
    c.inputSize = size;
    c.classCount = 3;
    c.head = Head::GlobalAveragePool;
    torch::manual_seed(3);
    return makeClassifier(c);
}

}  // namespace

TEST(Device, ParsesEveryFormAndRefusesOthers) {
    EXPECT_EQ(parseDevice("auto"), DeviceChoice{});
    EXPECT_EQ(parseDevice("cpu"), DeviceChoice::cpu());
    EXPECT_EQ(parseDevice("cuda"), DeviceChoice::cuda());
    EXPECT_EQ(parseDevice("cuda:3"), DeviceChoice::cuda(3));
    EXPECT_EQ(deviceName(DeviceChoice::cuda(3)), "cuda:3");
    for (const char* bad : {"gpu", "cuda:", "cuda:x", "CUDA", "cuda:-1"})
        EXPECT_THROW(parseDevice(bad), Error) << bad;
    EXPECT_EQ(parsePrecision("bf16"), Precision::Bf16);
    EXPECT_THROW(parsePrecision("fp8"), Error);
}

TEST(Device, AutoPrecisionFollowsTheHardware) {
    const RuntimeInfo info = runtimeInfo();
    const ResolvedDevice cpu = resolveDevice(DeviceChoice::cpu(), Precision::Auto);
    EXPECT_EQ(cpu.device, DeviceChoice::cpu());
    EXPECT_EQ(cpu.precision, info.cpuBf16 ? Precision::Bf16 : Precision::Fp32);
    EXPECT_EQ(resolveDevice(DeviceChoice::cpu(), Precision::Fp16).precision, Precision::Fp16);
    if (!haveGpu()) {
        EXPECT_THROW(resolveDevice(DeviceChoice::cuda(), Precision::Auto), Error);
        EXPECT_EQ(resolveDevice({}, Precision::Auto).device, DeviceChoice::cpu());
    } else {
        const ResolvedDevice gpu = resolveDevice({}, Precision::Auto);
        EXPECT_EQ(gpu.device, DeviceChoice::cuda(0));
        EXPECT_EQ(gpu.precision, info.cudaDevices[0].bf16 ? Precision::Bf16 : Precision::Fp16);
        EXPECT_THROW(
            resolveDevice(DeviceChoice::cuda(int(info.cudaDevices.size())), Precision::Auto),
            Error);
    }
}

TEST(Precision, AutocastComputesInBf16AndLeavesWeightsFloat32) {
    Classifier net = smallNet(Architecture::SmallConvNet, 32);
    torch::Tensor y;
    {
        AutocastScope autocast(torch::kCPU, Precision::Bf16);
        y = net->forwardFeatures(torch::rand({2, 3, 32, 32}));
    }
    EXPECT_EQ(y.scalar_type(), torch::kBFloat16);
    for (const auto& p : net->parameters())
        EXPECT_EQ(p.scalar_type(), torch::kFloat32);
    // The scope restores the thread's state.
    EXPECT_EQ(net->forwardFeatures(torch::rand({2, 3, 32, 32})).scalar_type(), torch::kFloat32);
}

TEST(Precision, LossScalerSkipsNonFiniteStepsAndHalvesTheScale) {
    LossScaler scaler(true, 1024.0, 2);
    auto w = torch::ones({3}, torch::requires_grad());
    scaler.scaled((w * 2).sum()).backward();
    EXPECT_TRUE(scaler.unscale({w}));
    EXPECT_TRUE(torch::allclose(w.grad(), torch::full({3}, 2.0f)));
    scaler.update(true);
    scaler.update(true);
    EXPECT_EQ(scaler.scale(), 2048.0);
    w.mutable_grad() = torch::tensor({1.0f, INFINITY, 0.0f});
    EXPECT_FALSE(scaler.unscale({w}));
    scaler.update(false);
    EXPECT_EQ(scaler.scale(), 1024.0);
}

TEST(Precision, BatchProbeFindsTheInjectedLimitAndLeavesTheModelAlone) {
    Classifier net = smallNet(Architecture::MobileNetV2, 32);
    const auto before = net->buffers()[0].clone();
    // No limit on the CPU without an injected fault: the largest power of two up to the cap.
    EXPECT_EQ(largestFittingBatch(*net, 8, 32, torch::kCPU, Precision::Fp32, true), 8);
    EXPECT_TRUE(torch::equal(before, net->buffers()[0]));
    for (const auto& p : net->parameters())
        EXPECT_FALSE(p.grad().defined());
}

// The GPU tests skip without a GPU; that must never be because the CUDA module failed to load
// on a machine with a driver (cuda/cudamodule.h).
TEST(Cuda, WhereThereIsADriverLibTorchsCudaLibrariesAreLoaded) {
    if (!::dlopen("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL))
        GTEST_SKIP() << "no NVIDIA driver";
    if (cudaModuleStatus().detail == "CONVSCOPE_CUDA=off")
        GTEST_SKIP() << "CONVSCOPE_CUDA=off";
    EXPECT_TRUE(cudaModuleStatus().loaded) << cudaModuleStatus().detail;
}

TEST(Cuda, EveryArchitectureMatchesTheCpuInFloat32) {
    if (!haveGpu())
        GTEST_SKIP() << "no CUDA device";
    for (Architecture a : {Architecture::SmallConvNet, Architecture::Vgg16, Architecture::ResNet18,
                           Architecture::MobileNetV2}) {
        Classifier net = smallNet(a, 64);
        net->eval();
        const auto x = torch::rand({4, 3, 64, 64});
        torch::NoGradGuard noGrad;
        const auto cpu = net->forward(x);
        net->to(torch::kCUDA);
        const auto gpu = net->forward(x.to(torch::kCUDA)).cpu();
        EXPECT_LT((cpu - gpu).abs().max().item<float>(), 1e-3) << architectureName(a);
    }
}

TEST(Cuda, Bf16TrainingStepsLowerTheLossOnTheGpu) {
    if (!haveGpu())
        GTEST_SKIP() << "no CUDA device";
    Classifier net = smallNet(Architecture::ResNet18, 32);
    net->to(torch::kCUDA);
    torch::optim::Adam opt(net->parameters(), 1e-3);
    const auto x = torch::rand({16, 3, 32, 32}, torch::kCUDA);
    const auto y =
        torch::randint(0, 3, {16}, torch::TensorOptions(torch::kCUDA).dtype(torch::kLong));
    float first = 0, last = 0;
    for (int step = 0; step < 20; ++step) {
        opt.zero_grad();
        torch::Tensor loss;
        {
            AutocastScope autocast(torch::Device(torch::kCUDA), Precision::Bf16);
            loss = torch::nn::functional::cross_entropy(net->forward(x), y);
        }
        loss.backward();
        opt.step();
        (step == 0 ? first : last) = loss.item<float>();
    }
    EXPECT_LT(last, first * 0.5f);
    for (const auto& p : net->parameters())
        EXPECT_EQ(p.scalar_type(), torch::kFloat32);
}

TEST(Cuda, BatchProbeStaysWithinTheMemoryBudget) {
    if (!haveGpu())
        GTEST_SKIP() << "no CUDA device";
    Classifier net = smallNet(Architecture::SmallConvNet, 150);
    const torch::Device gpu(torch::kCUDA, 0);
    net->to(gpu);
    const std::int64_t freeAtStart = freeDeviceMemoryBytes(gpu);
    const int fits = largestFittingBatch(*net, 4096, 150, gpu, Precision::Bf16, true);
    EXPECT_GE(fits, 32);
    resetPeakDeviceMemory(gpu);
    probeTrainingStep(*net, fits, 150, gpu, Precision::Bf16, true);
    EXPECT_GT(peakDeviceMemoryBytes(gpu), 0);
    EXPECT_LE(peakDeviceMemoryBytes(gpu), std::int64_t(0.8 * double(freeAtStart)));
}
