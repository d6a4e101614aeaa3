#include "convpoolcase.h"
#include "models/convpool.h"
#include "models/relumaxpool.h"
#include "util/cpufeatures.h"

#include <ATen/autocast_mode.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <tuple>
#include <utility>

using namespace convscope;

namespace {

// The first layer's cases: 3 input channels (the images, which need no gradient).
struct Case : ConvPoolCase {
    Case(std::int64_t n, std::int64_t channels, std::int64_t h, std::int64_t w, bool withNaN)
        : ConvPoolCase(n, 3, channels, h, w, withNaN, 11) {}
    explicit Case(ConvPoolCase c) : ConvPoolCase(std::move(c)) {}

    /// Real values, 32 output channels.
    static Case realValued(std::int64_t n, std::int64_t h, std::int64_t w, int seed) {
        return Case(ConvPoolCase::realValued(n, 3, 32, h, w, seed, 0.3));
    }

    template <typename F>
    Result run(F layer) const {
        return ConvPoolCase::run(layer, false);
    }
};

Case::Result composed(const Case& c) {
    return c.run(convReluPoolByATen);
}

Case::Result fused(const Case& c) {
    return c.run([](const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b) {
        return convReluMaxPool2(x, w, b);
    });
}

bool fusedHere() {
    return cpuHasAvx512f();
}

}  // namespace

TEST(ConvReluMaxPool2, equalsTheCompositionToTheBitWhenTheSumsAreExact) {
    if (!fusedHere())
        GTEST_SKIP() << "this CPU has no AVX-512: the one-pass path does not run here";
    // 32 and 64 channels (one and two blocks), even and odd sides, a row of windows with an
    // odd count (the one-window tail), and a NaN.
    const std::vector<std::tuple<std::int64_t, std::int64_t, std::int64_t, std::int64_t>> shapes = {
        {2, 32, 12, 12}, {3, 64, 9, 11}, {1, 32, 4, 4}, {2, 32, 8, 16}};
    for (const auto& [n, channels, h, w] : shapes) {
        for (bool withNaN : {false, true}) {
            SCOPED_TRACE(testing::Message() << n << "x" << channels << "x" << h << "x" << w
                                            << (withNaN ? " with a NaN" : ""));
            const Case c(n, channels, h, w, withNaN);
            ASSERT_TRUE(convReluMaxPool2IsFused(c.x, c.weight, c.bias));
            const auto expected = composed(c);
            const auto got = fused(c);
            EXPECT_TRUE(sameValues(got.output, expected.output));
            EXPECT_TRUE(got.output.is_contiguous(torch::MemoryFormat::ChannelsLast));
            EXPECT_TRUE(sameValues(got.weightGrad, expected.weightGrad));
            EXPECT_TRUE(sameValues(got.biasGrad, expected.biasGrad));
            // The case must exercise what it claims: outputs ReLU stopped and gradients that
            // flow, or the NaN carried to the output and the weight gradient.
            if (withNaN) {
                EXPECT_TRUE(got.output.isnan().any().item<bool>());
                EXPECT_TRUE(got.weightGrad.isnan().any().item<bool>());
            } else {
                EXPECT_GT(got.output.eq(0).sum().item<std::int64_t>(), 0);
                EXPECT_GT(got.weightGrad.abs().sum().item<float>(), 0);
            }
        }
    }
}

TEST(ConvReluMaxPool2, realValuedGradientsAgreeWithTheComposition) {
    if (!fusedHere())
        GTEST_SKIP() << "this CPU has no AVX-512: the one-pass path does not run here";
    const Case c = Case::realValued(4, 30, 30, 4);
    const auto expected = composed(c);
    const auto got = fused(c);
    EXPECT_TRUE(torch::allclose(got.output, expected.output, 1e-5, 1e-5));
    EXPECT_TRUE(torch::allclose(got.weightGrad, expected.weightGrad, 1e-4, 1e-4));
    EXPECT_TRUE(torch::allclose(got.biasGrad, expected.biasGrad, 1e-4, 1e-4));
}

TEST(ConvReluMaxPool2, theGradientsAreTheSameOnOneThreadOrTwo) {
    if (!fusedHere())
        GTEST_SKIP() << "this CPU has no AVX-512: the one-pass path does not run here";
    const Case c = Case::realValued(3, 40, 36, 5);
    auto on = [&](int threads) {
        const int before = torch::get_num_threads();
        torch::set_num_threads(threads);
        const auto r = fused(c);
        torch::set_num_threads(before);
        return r;
    };
    const auto one = on(1), two = on(2);
    EXPECT_TRUE(torch::equal(one.output, two.output));
    EXPECT_TRUE(torch::equal(one.weightGrad, two.weightGrad));
    EXPECT_TRUE(torch::equal(one.biasGrad, two.biasGrad));
}

TEST(ConvReluMaxPool2, withoutGradientsItGivesTheSameOutput) {
    const Case c(2, 32, 10, 12, true);
    const torch::Tensor expected =
        torch::relu(torch::max_pool2d(torch::conv2d(c.x, c.weight, c.bias), 2));
    {
        torch::NoGradGuard noGrad;
        EXPECT_TRUE(sameValues(convReluMaxPool2(c.x, c.weight, c.bias), expected));
    }
    c10::InferenceMode inference;
    EXPECT_TRUE(sameValues(convReluMaxPool2(c.x, c.weight, c.bias), expected));
}

TEST(ConvReluMaxPool2, otherCasesRunTheComposition) {
    const Case c(2, 32, 10, 10, false);
    // An input that needs its gradient (activation maximisation), 16 channels, another
    // layout: none is fused, and each still gives the composition's values.
    torch::Tensor needsGrad = c.x.clone().requires_grad_(true);
    EXPECT_FALSE(convReluMaxPool2IsFused(needsGrad, c.weight, c.bias));
    const torch::Tensor y = convReluMaxPool2(needsGrad, c.weight, c.bias);
    y.backward(torch::ones_like(y));
    ASSERT_TRUE(needsGrad.grad().defined());
    torch::Tensor reference = c.x.clone().requires_grad_(true);
    torch::relu(torch::max_pool2d(torch::conv2d(reference, c.weight, c.bias), 2))
        .backward(torch::ones_like(y));
    EXPECT_TRUE(sameValues(needsGrad.grad(), reference.grad()));

    const torch::Tensor w16 = c.weight.slice(0, 0, 16).contiguous();
    const torch::Tensor b16 = c.bias.slice(0, 0, 16).contiguous();
    EXPECT_FALSE(convReluMaxPool2IsFused(c.x, w16, b16));
    EXPECT_TRUE(sameValues(convReluMaxPool2(c.x, w16, b16),
                           torch::relu(torch::max_pool2d(torch::conv2d(c.x, w16, b16), 2))));

    const torch::Tensor planar = c.x.contiguous();
    EXPECT_FALSE(convReluMaxPool2IsFused(planar, c.weight, c.bias));
    EXPECT_TRUE(
        sameValues(convReluMaxPool2(planar, c.weight, c.bias),
                   torch::relu(torch::max_pool2d(torch::conv2d(planar, c.weight, c.bias), 2))));
}

TEST(ConvReluMaxPool2, underBf16AutocastItStaysFloat32) {
    if (!fusedHere())
        GTEST_SKIP() << "this CPU has no AVX-512: the one-pass path does not run here";
    const Case c(2, 32, 12, 10, false);
    const auto expected = composed(c);
    at::autocast::set_autocast_enabled(at::kCPU, true);
    at::autocast::set_autocast_dtype(at::kCPU, at::kBFloat16);
    const bool isFused = convReluMaxPool2IsFused(c.x, c.weight, c.bias);
    const auto got = fused(c);
    at::autocast::set_autocast_enabled(at::kCPU, false);
    at::autocast::clear_cache();
    EXPECT_TRUE(isFused);
    EXPECT_EQ(got.output.scalar_type(), torch::kFloat32);
    EXPECT_TRUE(sameValues(got.output, expected.output));
    EXPECT_TRUE(sameValues(got.weightGrad, expected.weightGrad));
    EXPECT_TRUE(sameValues(got.biasGrad, expected.biasGrad));
}
