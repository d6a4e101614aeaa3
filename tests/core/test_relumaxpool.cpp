#include "models/relumaxpool.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <limits>

using namespace convscope;

namespace {

// Equal values, NaNs in the same places (-0 and +0 count as equal, as they do in arithmetic).
bool sameValues(const torch::Tensor& a, const torch::Tensor& b) {
    return a.sizes() == b.sizes() && a.scalar_type() == b.scalar_type() &&
           ((a == b) | (a.isnan() & b.isnan())).all().item<bool>();
}

// Small integers so that windows often hold ties, some windows wholly negative, and a few NaNs
// (two in one window too).
torch::Tensor awkwardInput(torch::IntArrayRef shape, torch::ScalarType type) {
    torch::manual_seed(7);
    torch::Tensor x = torch::randint(-3, 4, shape, torch::kFloat32);
    x.view(-1).index_put_({torch::randint(x.numel(), {x.numel() / 50}, torch::kInt64)},
                          std::numeric_limits<float>::quiet_NaN());
    x.index_put_({0, 0, 0, 0}, std::numeric_limits<float>::quiet_NaN());
    x.index_put_({0, 0, 1, 1}, std::numeric_limits<float>::quiet_NaN());
    x.index_put_({0, 1, torch::indexing::Slice(0, 2), torch::indexing::Slice(0, 2)}, -2.0f);
    return x.to(type).contiguous(torch::MemoryFormat::ChannelsLast);
}

struct Pass {
    torch::Tensor output;
    torch::Tensor gradInput;
};

template <typename F>
Pass run(const torch::Tensor& input, const torch::Tensor& gradOutput, F pool) {
    torch::Tensor x = input.detach().clone(torch::MemoryFormat::Preserve).requires_grad_(true);
    torch::Tensor y = pool(x);
    y.backward(gradOutput.to(y.scalar_type()));
    return {y.detach(), x.grad()};
}

Pass aten(const torch::Tensor& x, const torch::Tensor& gradOutput) {
    return run(x, gradOutput,
               [](const torch::Tensor& t) { return torch::relu(torch::max_pool2d(t, 2)); });
}

Pass fused(const torch::Tensor& x, const torch::Tensor& gradOutput) {
    return run(x, gradOutput, [](const torch::Tensor& t) { return reluMaxPool2(t); });
}

// As in training: a convolution on channels_last images, feeding the pool.
struct ConvBeforePool {
    struct Step {
        float loss;
        torch::Tensor weightGrad, biasGrad;
    };

    torch::nn::Conv2d conv{nullptr};
    torch::Tensor images;

    ConvBeforePool() {
        torch::manual_seed(3);
        conv = torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 8, 3));
        images = torch::rand({4, 3, 66, 66}).contiguous(torch::MemoryFormat::ChannelsLast);
    }

    /// The sum of the squares of what `pooled()` gives, and the convolution's gradients of it.
    template <typename F>
    Step step(F pooled) {
        conv->zero_grad();
        torch::Tensor loss = pooled().square().sum();
        loss.backward();
        return {loss.item<float>(), conv->weight.grad().clone(), conv->bias.grad().clone()};
    }
};

}  // namespace

class ReluMaxPool : public testing::TestWithParam<torch::ScalarType> {};

TEST_P(ReluMaxPool, forwardAndGradientsEqualATensIncludingTiesNaNsAndOddSides) {
    // Channel counts under eight go through the scalar loops alone (as on a CPU without AVX2),
    // 12 through both, 32 and 64 (the blog net's) through the vector loops 32 channels at a
    // time, 44 through all three.
    const std::vector<std::vector<std::int64_t>> shapes = {
        {3, 5, 9, 7}, {2, 32, 16, 16}, {1, 64, 5, 5}, {4, 3, 2, 3},
        {1, 2, 4, 4}, {2, 12, 7, 6},   {2, 44, 6, 7}};
    for (const auto& shape : shapes) {
        SCOPED_TRACE(testing::PrintToString(shape));
        const torch::Tensor x = awkwardInput(shape, GetParam());
        const torch::Tensor gradOutput =
            torch::randn({shape[0], shape[1], shape[2] / 2, shape[3] / 2})
                .contiguous(torch::MemoryFormat::ChannelsLast);
        const Pass expected = aten(x, gradOutput);
        const Pass got = fused(x, gradOutput);
        EXPECT_TRUE(sameValues(got.output, expected.output));
        EXPECT_TRUE(got.output.is_contiguous(torch::MemoryFormat::ChannelsLast));
        ASSERT_TRUE(got.gradInput.defined());
        EXPECT_TRUE(sameValues(got.gradInput, expected.gradInput));
        // The test must exercise what it claims: NaNs passed on, gradients that flow.
        EXPECT_TRUE(got.output.isnan().any().item<bool>());
        EXPECT_GT(got.gradInput.ne(0).sum().item<std::int64_t>(), 0);
    }
}

TEST_P(ReluMaxPool, withoutGradientsItGivesTheSameOutput) {
    const torch::Tensor x = awkwardInput({2, 16, 12, 10}, GetParam());
    const torch::Tensor expected = torch::relu(torch::max_pool2d(x, 2));
    {
        torch::NoGradGuard noGrad;
        EXPECT_TRUE(sameValues(reluMaxPool2(x), expected));
    }
    c10::InferenceMode inference;
    EXPECT_TRUE(sameValues(reluMaxPool2(x), expected));
}

TEST_P(ReluMaxPool, theBackwardPassDoesNotNeedTheInput) {
    // The input is not kept: overwritten after the forward pass, it changes no gradient (and
    // autograd does not object, as it would for a saved tensor changed in place).
    const torch::Tensor x = awkwardInput({2, 32, 10, 9}, GetParam());
    const torch::Tensor gradOutput =
        torch::randn({2, 32, 5, 4}).contiguous(torch::MemoryFormat::ChannelsLast);
    const Pass expected = aten(x, gradOutput);
    torch::Tensor xs = x.detach().clone(torch::MemoryFormat::Preserve).requires_grad_(true);
    torch::Tensor y = reluMaxPool2(xs);
    {
        torch::NoGradGuard noGrad;
        xs.detach().fill_(5.0);
    }
    y.backward(gradOutput.to(y.scalar_type()));
    EXPECT_TRUE(sameValues(y.detach(), expected.output));
    EXPECT_TRUE(sameValues(xs.grad(), expected.gradInput));
}

TEST_P(ReluMaxPool, otherLayoutsAreHandedToATen) {
    const torch::Tensor x = awkwardInput({2, 6, 8, 8}, GetParam()).contiguous();
    const torch::Tensor gradOutput = torch::randn({2, 6, 4, 4});
    const Pass expected = aten(x, gradOutput);
    const Pass got = fused(x, gradOutput);
    EXPECT_TRUE(sameValues(got.output, expected.output));
    EXPECT_TRUE(sameValues(got.gradInput, expected.gradInput));
    EXPECT_TRUE(got.output.is_contiguous());
}

INSTANTIATE_TEST_SUITE_P(Types, ReluMaxPool, testing::Values(torch::kFloat32, torch::kBFloat16),
                         [](const auto& info) {
                             return std::string(info.param == torch::kFloat32 ? "float32"
                                                                              : "bfloat16");
                         });

TEST(ReluMaxPoolChain, theLayerBeforeItGetsATensWeightGradient) {
    // The gradient that reaches the convolution's weights must be ATen's to the bit.
    ConvBeforePool f;
    auto maps = [&] {
        torch::Tensor m = f.conv->forward(f.images);
        EXPECT_TRUE(m.is_contiguous(torch::MemoryFormat::ChannelsLast));
        return m;
    };
    const auto fused = f.step([&] { return reluMaxPool2(maps()); });
    const auto aten = f.step([&] { return torch::relu(torch::max_pool2d(maps(), 2)); });
    EXPECT_TRUE(torch::equal(fused.weightGrad, aten.weightGrad));
}

// A convolution's bias taken into the pool (float32): the same outputs and input gradients as
// relu(max_pool2d(x + bias)) to the bit, ties and NaNs included, and the same bias gradient up
// to the order of the sum, whatever the thread count.
TEST(ReluMaxPoolBias, equalsATenWithTheBiasAddedFirst) {
    const std::vector<std::vector<std::int64_t>> shapes = {
        {3, 5, 9, 7}, {2, 32, 16, 16}, {1, 64, 5, 5}, {4, 3, 2, 3}, {2, 12, 7, 6}, {2, 44, 6, 7}};
    for (const auto& shape : shapes) {
        SCOPED_TRACE(testing::PrintToString(shape));
        const torch::Tensor x = awkwardInput(shape, torch::kFloat32);
        // Halves, so that x + bias stays exact and ties survive the addition.
        const torch::Tensor bias = torch::randint(-4, 5, {shape[1]}, torch::kFloat32) / 2;
        const torch::Tensor gradOutput =
            torch::randn({shape[0], shape[1], shape[2] / 2, shape[3] / 2})
                .contiguous(torch::MemoryFormat::ChannelsLast);
        auto pass = [&](bool useFused) {
            torch::Tensor xs = x.detach().clone(torch::MemoryFormat::Preserve).requires_grad_(true);
            torch::Tensor b = bias.clone().requires_grad_(true);
            torch::Tensor y = useFused
                                  ? reluMaxPool2(xs, b)
                                  : torch::relu(torch::max_pool2d(xs + b.view({1, -1, 1, 1}), 2));
            y.backward(gradOutput);
            return std::tuple{y.detach(), xs.grad(), b.grad()};
        };
        const auto [y, gx, gb] = pass(true);
        const auto [ey, egx, egb] = pass(false);
        EXPECT_TRUE(sameValues(y, ey));
        EXPECT_TRUE(y.is_contiguous(torch::MemoryFormat::ChannelsLast));
        EXPECT_TRUE(sameValues(gx, egx));
        ASSERT_TRUE(gb.defined());
        EXPECT_TRUE(torch::allclose(gb, egb, 1e-5, 1e-5)) << gb << egb;
        EXPECT_GT(gb.abs().sum().item<float>(), 0);
    }
}

TEST(ReluMaxPoolBias, theBiasGradientIsTheSameOnOneThreadOrTwo) {
    torch::manual_seed(5);
    const torch::Tensor x =
        torch::randn({4, 32, 30, 30}).contiguous(torch::MemoryFormat::ChannelsLast);
    const torch::Tensor bias = torch::randn({32});
    const torch::Tensor gradOutput =
        torch::randn({4, 32, 15, 15}).contiguous(torch::MemoryFormat::ChannelsLast);
    auto biasGrad = [&](int threads) {
        const int before = torch::get_num_threads();
        torch::set_num_threads(threads);
        torch::Tensor b = bias.clone().requires_grad_(true);
        reluMaxPool2(x, b).backward(gradOutput);
        torch::set_num_threads(before);
        return b.grad();
    };
    EXPECT_TRUE(torch::equal(biasGrad(1), biasGrad(2)));
}

TEST(ReluMaxPoolBias, otherTypesAndLayoutsAreHandedToATen) {
    const torch::Tensor bias = torch::tensor({0.5f, -1.0f, 2.0f, 0.0f, 1.5f, -0.5f});
    for (const auto& x : {awkwardInput({2, 6, 8, 8}, torch::kFloat32).contiguous(),
                          awkwardInput({2, 6, 8, 8}, torch::kBFloat16)}) {
        const torch::Tensor expected =
            torch::relu(torch::max_pool2d(x + bias.view({1, -1, 1, 1}), 2));
        EXPECT_TRUE(sameValues(reluMaxPool2(x, bias), expected));
    }
}

TEST(ReluMaxPoolBias, theSmallNetTrainsTheSameWithTheBiasInThePool) {
    // What SmallConvNet does in float32 on the CPU, against the convolution with its bias: the
    // same loss, and weight gradients equal up to the order of the bias gradient's sum.
    ConvBeforePool f;
    const auto intoPool =
        f.step([&] { return reluMaxPool2(torch::conv2d(f.images, f.conv->weight), f.conv->bias); });
    const auto inConv = f.step([&] { return reluMaxPool2(f.conv->forward(f.images)); });
    EXPECT_FLOAT_EQ(intoPool.loss, inConv.loss);
    EXPECT_TRUE(torch::allclose(intoPool.weightGrad, inConv.weightGrad, 1e-5, 1e-4));
    EXPECT_TRUE(torch::allclose(intoPool.biasGrad, inConv.biasGrad, 1e-5, 1e-4));
}
