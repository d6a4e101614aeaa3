#pragma once

// Test data for the fused conv + ReLU + pool layers (convpool, winogradpool): a batch, 3x3
// kernels, a bias and a pooled gradient, and one training step of a layer on them.

#include <torch/torch.h>

#include <cstdint>
#include <limits>

/// Equal values, NaNs in the same places.
inline bool sameValues(const torch::Tensor& a, const torch::Tensor& b) {
    return a.sizes() == b.sizes() && a.scalar_type() == b.scalar_type() &&
           ((a == b) | (a.isnan() & b.isnan())).all().item<bool>();
}

/// relu(max_pool2d(conv2d(x, w) + b, 2)) as ATen computes it.
inline torch::Tensor convReluPoolByATen(const torch::Tensor& x, const torch::Tensor& w,
                                        const torch::Tensor& b) {
    return torch::relu(torch::max_pool2d(torch::conv2d(x, w, b), 2));
}

struct ConvPoolCase {
    torch::Tensor x, weight, bias, gradOutput;

    /// Small integers everywhere (kernels in -2..2, so their halves are exact too), so that
    /// every sum is exact in float32 whatever its order: a fused layer must then equal ATen's
    /// composition to the bit, ties between corners included. `withNaN` puts a NaN at
    /// image 0, channel 1, row 2, column 3.
    ConvPoolCase(std::int64_t n, std::int64_t in, std::int64_t out, std::int64_t h, std::int64_t w,
                 bool withNaN, int seed) {
        torch::manual_seed(seed);
        x = torch::randint(-2, 3, {n, in, h, w}, torch::kFloat32)
                .contiguous(torch::MemoryFormat::ChannelsLast);
        if (withNaN)
            x.index_put_({0, 1, 2, 3}, std::numeric_limits<float>::quiet_NaN());
        weight = torch::randint(-2, 3, {out, in, 3, 3}, torch::kFloat32);
        bias = torch::randint(-3, 4, {out}, torch::kFloat32);
        gradOutput = torch::randint(-4, 5, {n, out, (h - 2) / 2, (w - 2) / 2}, torch::kFloat32)
                         .contiguous(torch::MemoryFormat::ChannelsLast);
    }

    /// Real values (the sums no longer exact): x in [0, 1), kernels of `weightScale`.
    static ConvPoolCase realValued(std::int64_t n, std::int64_t in, std::int64_t out,
                                   std::int64_t h, std::int64_t w, int seed, double weightScale) {
        ConvPoolCase c;
        torch::manual_seed(seed);
        c.x = torch::rand({n, in, h, w}).contiguous(torch::MemoryFormat::ChannelsLast);
        c.weight = torch::randn({out, in, 3, 3}) * weightScale;
        c.bias = torch::randn({out}) * 0.1;
        c.gradOutput = torch::randn({n, out, (h - 2) / 2, (w - 2) / 2})
                           .contiguous(torch::MemoryFormat::ChannelsLast);
        return c;
    }

private:
    ConvPoolCase() = default;

public:
    struct Result {
        torch::Tensor output, inputGrad, weightGrad, biasGrad;  // inputGrad: when asked for
    };

    /// One forward and backward pass of `layer(x, weight, bias)` with `gradOutput`.
    template <typename F>
    Result run(F layer, bool withInputGrad) const {
        torch::Tensor in = withInputGrad ? x.clone().requires_grad_(true) : x;
        torch::Tensor w = weight.clone().requires_grad_(true);
        torch::Tensor b = bias.clone().requires_grad_(true);
        torch::Tensor y = layer(in, w, b);
        y.backward(gradOutput);
        return {y.detach(), withInputGrad ? in.grad() : torch::Tensor(), w.grad(), b.grad()};
    }
};
