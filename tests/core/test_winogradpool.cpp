#include "convpoolcase.h"
#include "models/classifier.h"
#include "models/winogradpool.h"
#include "util/cpufeatures.h"

#include <ATen/autocast_mode.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <tuple>
#include <utility>

using namespace convscope;

namespace {

// An inner layer's cases, whose input needs its gradient.
struct Case : ConvPoolCase {
    Case(std::int64_t n, std::int64_t in, std::int64_t out, std::int64_t h, std::int64_t w,
         bool withNaN)
        : ConvPoolCase(n, in, out, h, w, withNaN, 17) {}
    explicit Case(ConvPoolCase c) : ConvPoolCase(std::move(c)) {}

    static Case realValued(std::int64_t n, std::int64_t in, std::int64_t out, std::int64_t h,
                           std::int64_t w, int seed) {
        return Case(ConvPoolCase::realValued(n, in, out, h, w, seed, 0.1));
    }

    template <typename F>
    Result run(F layer) const {
        return ConvPoolCase::run(layer, true);
    }
};

Case::Result composed(const Case& c) {
    return c.run(convReluPoolByATen);
}

Case::Result winograd(const Case& c) {
    return c.run(winogradConvReluMaxPool2);
}

bool appliesHere() {
    return cpuHasAvx512f();
}

}  // namespace

TEST(WinogradConvReluMaxPool2, equalsTheCompositionToTheBitWhenTheSumsAreExact) {
    if (!appliesHere())
        GTEST_SKIP() << "this CPU has no AVX-512: the Winograd path does not run here";
    // One and several output blocks, 32 and 64 input channels, even and odd sides, rows of
    // windows shorter and longer than one product's tiles (12) and than the weight
    // gradient's (36), one and two parts of its sums (36 rows each), the one-window row, a NaN.
    const std::vector<
        std::tuple<std::int64_t, std::int64_t, std::int64_t, std::int64_t, std::int64_t>>
        shapes = {{2, 32, 32, 12, 12}, {3, 64, 64, 9, 11},  {1, 32, 32, 4, 4},  {2, 32, 32, 30, 31},
                  {1, 64, 96, 7, 33},  {1, 32, 32, 80, 80}, {3, 32, 32, 30, 30}};
    for (const auto& [n, in, out, h, w] : shapes) {
        for (bool withNaN : {false, true}) {
            SCOPED_TRACE(testing::Message() << n << "x" << in << "->" << out << "x" << h << "x" << w
                                            << (withNaN ? " with a NaN" : ""));
            const Case c(n, in, out, h, w, withNaN);
            ASSERT_TRUE(winogradConvReluMaxPool2Applies(c.x, c.weight, c.bias));
            const auto expected = composed(c);
            const auto got = winograd(c);
            EXPECT_TRUE(sameValues(got.output, expected.output));
            EXPECT_TRUE(got.output.is_contiguous(torch::MemoryFormat::ChannelsLast));
            EXPECT_TRUE(sameValues(got.biasGrad, expected.biasGrad));
            // A NaN reaches the same convolution outputs as in ATen's, so the same corners
            // get the gradients.
            EXPECT_TRUE(sameValues(got.inputGrad, expected.inputGrad));
            if (withNaN) {
                EXPECT_TRUE(got.output.isnan().any().item<bool>());
                // In the weight gradient it lands at transform positions: every weight that
                // is NaN in ATen's is NaN here, and the others are equal.
                const torch::Tensor gotNaN = got.weightGrad.isnan();
                const torch::Tensor expectedNaN = expected.weightGrad.isnan();
                EXPECT_TRUE(expectedNaN.any().item<bool>());
                EXPECT_TRUE((gotNaN | ~expectedNaN).all().item<bool>());
                const torch::Tensor neither = ~gotNaN & ~expectedNaN;
                EXPECT_TRUE(torch::equal(got.weightGrad.masked_select(neither),
                                         expected.weightGrad.masked_select(neither)));
            } else {
                EXPECT_TRUE(sameValues(got.weightGrad, expected.weightGrad));
                EXPECT_GT(got.output.eq(0).sum().item<std::int64_t>(), 0);
                EXPECT_GT(got.output.gt(0).sum().item<std::int64_t>(), 0);
                EXPECT_GT(got.weightGrad.abs().sum().item<float>(), 0);
            }
        }
    }
}

TEST(WinogradConvReluMaxPool2, realValuedResultsAgreeWithTheComposition) {
    if (!appliesHere())
        GTEST_SKIP() << "this CPU has no AVX-512: the Winograd path does not run here";
    // The blog net's second and third layers, on a few images.
    for (const auto& [in, out, side] :
         std::vector<std::tuple<std::int64_t, std::int64_t, std::int64_t>>{{32, 32, 74},
                                                                           {32, 64, 36}}) {
        SCOPED_TRACE(testing::Message() << in << "->" << out << " at " << side);
        const Case c = Case::realValued(3, in, out, side, side, 4);
        const auto expected = composed(c);
        const auto got = winograd(c);
        EXPECT_LT((got.output - expected.output).abs().max().item<float>(), 2e-5);
        EXPECT_TRUE(torch::allclose(got.inputGrad, expected.inputGrad, 1e-4, 1e-4));
        EXPECT_TRUE(torch::allclose(got.weightGrad, expected.weightGrad, 1e-4, 1e-3));
        EXPECT_TRUE(torch::allclose(got.biasGrad, expected.biasGrad, 1e-4, 1e-4));
    }
}

TEST(WinogradConvReluMaxPool2, theResultsAreTheSameOnOneThreadOrTwo) {
    if (!appliesHere())
        GTEST_SKIP() << "this CPU has no AVX-512: the Winograd path does not run here";
    const Case c = Case::realValued(3, 32, 64, 28, 26, 5);
    auto on = [&](int threads) {
        const int before = torch::get_num_threads();
        torch::set_num_threads(threads);
        const auto r = winograd(c);
        torch::set_num_threads(before);
        return r;
    };
    const auto one = on(1), two = on(2);
    EXPECT_TRUE(torch::equal(one.output, two.output));
    EXPECT_TRUE(torch::equal(one.inputGrad, two.inputGrad));
    EXPECT_TRUE(torch::equal(one.weightGrad, two.weightGrad));
    EXPECT_TRUE(torch::equal(one.biasGrad, two.biasGrad));
}

TEST(WinogradConvReluMaxPool2, withoutGradientsItGivesTheSameOutput) {
    const Case c(2, 32, 32, 10, 12, true);
    const torch::Tensor expected = convReluPoolByATen(c.x, c.weight, c.bias);
    {
        torch::NoGradGuard noGrad;
        EXPECT_TRUE(sameValues(winogradConvReluMaxPool2(c.x, c.weight, c.bias), expected));
    }
    c10::InferenceMode inference;
    EXPECT_TRUE(sameValues(winogradConvReluMaxPool2(c.x, c.weight, c.bias), expected));
}

TEST(WinogradConvReluMaxPool2, otherCasesRunTheComposition) {
    const Case c(2, 32, 32, 10, 10, false);
    // 8 input channels, 16 output channels, another layout, bf16 autocast: none takes the
    // Winograd path, and each still gives the composition's values.
    const torch::Tensor x8 = c.x.slice(1, 0, 8).contiguous(torch::MemoryFormat::ChannelsLast);
    const torch::Tensor w8 = c.weight.slice(1, 0, 8).contiguous();
    EXPECT_FALSE(winogradConvReluMaxPool2Applies(x8, w8, c.bias));
    EXPECT_TRUE(
        sameValues(winogradConvReluMaxPool2(x8, w8, c.bias), convReluPoolByATen(x8, w8, c.bias)));

    const torch::Tensor w16 = c.weight.slice(0, 0, 16).contiguous();
    const torch::Tensor b16 = c.bias.slice(0, 0, 16).contiguous();
    EXPECT_FALSE(winogradConvReluMaxPool2Applies(c.x, w16, b16));
    EXPECT_TRUE(
        sameValues(winogradConvReluMaxPool2(c.x, w16, b16), convReluPoolByATen(c.x, w16, b16)));

    const torch::Tensor planar = c.x.contiguous();
    EXPECT_FALSE(winogradConvReluMaxPool2Applies(planar, c.weight, c.bias));
    EXPECT_TRUE(sameValues(winogradConvReluMaxPool2(planar, c.weight, c.bias),
                           convReluPoolByATen(planar, c.weight, c.bias)));

    at::autocast::set_autocast_enabled(at::kCPU, true);
    at::autocast::set_autocast_dtype(at::kCPU, at::kBFloat16);
    const bool applies = winogradConvReluMaxPool2Applies(c.x, c.weight, c.bias);
    const torch::Tensor underAutocast = winogradConvReluMaxPool2(c.x, c.weight, c.bias);
    at::autocast::set_autocast_enabled(at::kCPU, false);
    at::autocast::clear_cache();
    EXPECT_FALSE(applies);
    // oneDNN's bf16 convolution: the float32 values to bf16's 8 bits.
    EXPECT_TRUE(torch::allclose(underAutocast.to(torch::kFloat32),
                                convReluPoolByATen(c.x, c.weight, c.bias), 1.0 / 64, 1e-3));
}

TEST(WinogradConvReluMaxPool2, theSmallNetTrainsTheSameAsWithATensConvolutions) {
    if (!appliesHere())
        GTEST_SKIP() << "this CPU has no AVX-512: the Winograd path does not run here";
    // The blog net at 62x62 in float32, channels_last as training feeds it: its fast paths
    // (no layer tap) against ATen's composition (a tap that looks at every layer), for the
    // logits and every parameter's gradient.
    ModelConfig config;
    config.inputSize = 62;
    config.classCount = 3;
    config.dropout = 0;
    torch::manual_seed(3);
    Classifier net = makeClassifier(config);
    net->train();
    const torch::Tensor images =
        torch::rand({4, 3, 62, 62}).contiguous(torch::MemoryFormat::ChannelsLast);
    const torch::Tensor labels = torch::tensor({0, 1, 2, 1}, torch::kLong);
    auto step = [&](const LayerTap* tap) {
        net->zero_grad();
        const torch::Tensor logits = net->forward(images, tap);
        torch::nn::functional::cross_entropy(logits, labels).backward();
        std::vector<torch::Tensor> grads;
        for (const torch::Tensor& p : net->parameters())
            grads.push_back(p.grad().clone());
        return std::make_pair(logits.detach(), grads);
    };
    const LayerTap everyLayer = [](const std::string&, const torch::Tensor&) {};
    const auto [fastLogits, fastGrads] = step(nullptr);
    const auto [atenLogits, atenGrads] = step(&everyLayer);
    EXPECT_TRUE(torch::allclose(fastLogits, atenLogits, 1e-4, 1e-5));
    ASSERT_EQ(fastGrads.size(), atenGrads.size());
    for (std::size_t i = 0; i < fastGrads.size(); ++i) {
        SCOPED_TRACE(testing::Message() << "parameter " << i);
        EXPECT_GT(atenGrads[i].abs().sum().item<float>(), 0);
        EXPECT_TRUE(torch::allclose(fastGrads[i], atenGrads[i], 1e-3, 1e-5));
    }
}

TEST(WinogradConvReluMaxPool2, eachGradientOnItsOwn) {
    if (!appliesHere())
        GTEST_SKIP() << "this CPU has no AVX-512: the Winograd path does not run here";
    const Case c(2, 32, 64, 14, 12, false);
    // The weights' gradients without the input's (a first layer's input), and the input's
    // alone (frozen kernels, as when fine-tuning later layers).
    for (bool inputGrad : {false, true}) {
        SCOPED_TRACE(inputGrad ? "the input's gradient alone" : "the kernels' gradients alone");
        auto step = [&](auto layer) {
            torch::Tensor x = c.x.clone().requires_grad_(inputGrad);
            torch::Tensor w = c.weight.clone().requires_grad_(!inputGrad);
            torch::Tensor b = c.bias.clone().requires_grad_(!inputGrad);
            layer(x, w, b).backward(c.gradOutput);
            return std::vector<torch::Tensor>{x.grad(), w.grad(), b.grad()};
        };
        const auto got = step(winogradConvReluMaxPool2);
        const auto expected = step(convReluPoolByATen);
        for (std::size_t i = 0; i < got.size(); ++i) {
            ASSERT_EQ(got[i].defined(), expected[i].defined());
            if (expected[i].defined()) {
                EXPECT_TRUE(sameValues(got[i], expected[i]));
            }
        }
        EXPECT_EQ(got[0].defined(), inputGrad);
    }
}
