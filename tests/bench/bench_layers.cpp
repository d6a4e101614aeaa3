// The small net's three conv + ReLU + pool layers, one batch of 32 at 150x150 in float32, as
// ConvScope runs them (core/models/convpool, core/models/winogradpool) against ATen's
// composition, conv2d (oneDNN) + relu + max_pool2d: what PyTorch runs for the same layer,
// with the same LibTorch, on the same threads. Prints, per layer, the median of each side
// over the rounds (alternating) and their ratio, for the forward pass alone (validation) and
// for a training step's forward + backward pass. A benchmark, not a test: it never fails on
// timing.
//
// usage: bench_layers [rounds]
#include "models/convpool.h"
#include "models/winogradpool.h"
#include "util/cpuallocator.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

namespace {

using Layer =
    std::function<torch::Tensor(const torch::Tensor&, const torch::Tensor&, const torch::Tensor&)>;

struct LayerCase {
    std::string name;
    std::int64_t in, out, side;
    Layer ours;
};

torch::Tensor aten(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b) {
    return torch::relu(torch::max_pool2d(torch::conv2d(x, w, b), 2));
}

double secondsOf(const std::function<void()>& work) {
    const auto start = std::chrono::steady_clock::now();
    work();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
    const int rounds = argc > 1 ? std::max(3, std::atoi(argv[1])) : 21;
    // As in training: without it every call's output is fresh memory faulted in page by page
    // (the first layer's 90 MB convolution output most of all), on both sides.
    convscope::installCachingCpuAllocator();
    const std::vector<LayerCase> layers = {
        {"conv2d (3 -> 32 at 150x150), convpool", 3, 32, 150, convscope::convReluMaxPool2},
        {"conv2d_1 (32 -> 32 at 74x74), Winograd", 32, 32, 74, convscope::winogradConvReluMaxPool2},
        {"conv2d_2 (32 -> 64 at 36x36), Winograd", 32, 64, 36,
         convscope::winogradConvReluMaxPool2}};
    std::printf("%d threads, %d rounds, batch 32, float32; milliseconds, median\n",
                torch::get_num_threads(), rounds);
    torch::manual_seed(1);
    for (const LayerCase& l : layers) {
        const torch::Tensor x =
            torch::rand({32, l.in, l.side, l.side}).contiguous(torch::MemoryFormat::ChannelsLast);
        // The first layer's input is the images; the inner layers' need their gradient.
        const torch::Tensor input = l.in == 3 ? x : x.clone().requires_grad_(true);
        const torch::Tensor w = (torch::randn({l.out, l.in, 3, 3}) * 0.1).requires_grad_(true);
        const torch::Tensor b = (torch::randn({l.out}) * 0.1).requires_grad_(true);
        const std::int64_t pooled = (l.side - 2) / 2;
        const torch::Tensor grad =
            torch::randn({32, l.out, pooled, pooled}).contiguous(torch::MemoryFormat::ChannelsLast);
        const bool fast = l.in == 3 ? convscope::convReluMaxPool2IsFused(x, w, b)
                                    : convscope::winogradConvReluMaxPool2Applies(input, w, b);
        if (!fast)
            std::printf(
                "%s: ConvScope's path does not apply on this CPU (no AVX-512), so both "
                "sides below run ATen's composition\n",
                l.name.c_str());
        auto forward = [&](const Layer& layer) {
            return secondsOf([&] {
                torch::NoGradGuard noGrad;
                layer(x, w, b);
            });
        };
        auto step = [&](const Layer& layer) {
            return secondsOf([&] { layer(input, w, b).backward(grad); });
        };
        forward(aten), forward(l.ours), step(aten), step(l.ours);  // warm-up
        std::vector<double> forwardAten, forwardOurs, stepAten, stepOurs;
        for (int r = 0; r < rounds; ++r) {
            forwardAten.push_back(forward(aten));
            forwardOurs.push_back(forward(l.ours));
            stepAten.push_back(step(aten));
            stepOurs.push_back(step(l.ours));
        }
        const double fa = median(forwardAten), fo = median(forwardOurs);
        const double sa = median(stepAten), so = median(stepOurs);
        std::printf(
            "%s\n  forward:            ATen %7.2f  ConvScope %7.2f  ratio %.2fx\n"
            "  forward + backward: ATen %7.2f  ConvScope %7.2f  ratio %.2fx\n",
            l.name.c_str(), fa * 1e3, fo * 1e3, fa / fo, sa * 1e3, so * 1e3, sa / so);
    }
    return 0;
}
