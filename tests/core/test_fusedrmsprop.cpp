#include "train/fusedrmsprop.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <sstream>

using namespace convscope;

namespace {

// Parameters of a few shapes (one shorter than a vector, one with a tail), and gradients for
// `steps` steps, the same for both optimizers.
struct Trained {
    std::vector<torch::Tensor> params;
    std::vector<torch::Tensor> squareAverages;
};

template <typename Optimizer>
Trained train(const torch::optim::RMSpropOptions& options, int steps,
              bool withPlanarGradient = false) {
    torch::manual_seed(5);
    // The last in channels_last, as a channels_last model's conv weights are.
    std::vector<torch::Tensor> params = {
        torch::randn({7}), torch::randn({33, 17}),
        torch::randn({64, 32, 3, 3}).contiguous(torch::MemoryFormat::ChannelsLast)};
    for (auto& p : params)
        p.requires_grad_(true);
    Optimizer optimizer(params, options);
    for (int s = 0; s < steps; ++s) {
        for (auto& p : params)
            p.mutable_grad() = torch::randn_like(p) * (s + 1) * 0.01;
        if (withPlanarGradient)
            params[1].mutable_grad() = params[1].grad().t().contiguous().t();
        optimizer.step();
    }
    Trained run;
    for (auto& p : params) {
        run.params.push_back(p.detach().clone());
        if (steps == 0)
            continue;
        const auto& state = static_cast<torch::optim::RMSpropParamState&>(
            *optimizer.state().at(p.unsafeGetTensorImpl()));
        run.squareAverages.push_back(state.square_avg().clone());
        EXPECT_EQ(state.step(), steps);
    }
    return run;
}

void expectClose(const Trained& a, const Trained& b, bool exactSquareAverages = false) {
    ASSERT_EQ(a.params.size(), b.params.size());
    for (std::size_t i = 0; i < a.params.size(); ++i) {
        SCOPED_TRACE(testing::Message() << "parameter " << i);
        // Equal up to the rounding of the square root: a few float32 ulps.
        EXPECT_TRUE(torch::allclose(a.params[i], b.params[i], 1e-6, 1e-7));
        EXPECT_TRUE(torch::allclose(a.squareAverages[i], b.squareAverages[i], 1e-6, 0));
        // Without weight decay the square averages see only the gradients: to the bit.
        if (exactSquareAverages) {
            EXPECT_TRUE(torch::equal(a.squareAverages[i], b.squareAverages[i]));
        }
    }
}

}  // namespace

TEST(FusedRmsProp, stepsAsLibTorchsRmsPropDoes) {
    // Keras's settings (what ConvScope uses), then weight decay.
    for (double decay : {0.0, 1e-3}) {
        SCOPED_TRACE(testing::Message() << "weight decay " << decay);
        const auto options =
            torch::optim::RMSpropOptions(1e-3).alpha(0.9).eps(1e-7).weight_decay(decay);
        expectClose(train<FusedRmsProp>(options, 5), train<torch::optim::RMSprop>(options, 5),
                    decay == 0);
        // The steps moved the parameters: the comparison is not of untouched values.
        const Trained start = train<FusedRmsProp>(options, 0);
        EXPECT_FALSE(torch::allclose(train<FusedRmsProp>(options, 5).params[2], start.params[2]));
    }
}

TEST(FusedRmsProp, takesItsOnePassOnlyWhereItApplies) {
    torch::Tensor p = torch::randn({40}).requires_grad_(true);
    p.mutable_grad() = torch::randn({40});
    FusedRmsProp plain({p}, torch::optim::RMSpropOptions(1e-3));
    plain.step();
    EXPECT_TRUE(plain.lastStepWasFused());
    torch::Tensor kernels =
        torch::randn({8, 4, 3, 3}).contiguous(torch::MemoryFormat::ChannelsLast).requires_grad_();
    kernels.mutable_grad() = torch::randn_like(kernels);
    FusedRmsProp channelsLast({kernels}, torch::optim::RMSpropOptions(1e-3));
    channelsLast.step();
    EXPECT_TRUE(channelsLast.lastStepWasFused());
    // Momentum and centering are LibTorch's step, and so give its results.
    for (const auto& options : {torch::optim::RMSpropOptions(1e-3).momentum(0.9),
                                torch::optim::RMSpropOptions(1e-3).centered(true)}) {
        FusedRmsProp optimizer({p}, options);
        optimizer.step();
        EXPECT_FALSE(optimizer.lastStepWasFused());
        expectClose(train<FusedRmsProp>(options, 3), train<torch::optim::RMSprop>(options, 3));
    }
    // A gradient laid out otherwise than its parameter, and a double parameter, too.
    const auto options = torch::optim::RMSpropOptions(1e-3).alpha(0.9).eps(1e-7);
    expectClose(train<FusedRmsProp>(options, 3, true),
                train<torch::optim::RMSprop>(options, 3, true));
    torch::Tensor matrix = torch::randn({6, 5}).requires_grad_(true);
    matrix.mutable_grad() = torch::randn({5, 6}).t();
    FusedRmsProp transposed({matrix}, options);
    transposed.step();
    EXPECT_FALSE(transposed.lastStepWasFused());
    torch::Tensor d = torch::randn({9}, torch::kFloat64).requires_grad_(true);
    d.mutable_grad() = torch::randn({9}, torch::kFloat64);
    FusedRmsProp doubles({d}, options);
    doubles.step();
    EXPECT_FALSE(doubles.lastStepWasFused());
}

TEST(FusedRmsProp, itsStateLoadsIntoLibTorchsOptimizer) {
    // A checkpoint written by one reads into the other and goes on the same.
    const auto options = torch::optim::RMSpropOptions(1e-3).alpha(0.9).eps(1e-7);
    torch::manual_seed(8);
    torch::Tensor p = torch::randn({50}).requires_grad_(true);
    FusedRmsProp fused({p}, options);
    p.mutable_grad() = torch::randn({50});
    fused.step();
    std::stringstream saved;
    torch::save(fused, saved);
    torch::optim::RMSprop plain({p}, options);
    torch::load(plain, saved);
    const auto& state =
        static_cast<torch::optim::RMSpropParamState&>(*plain.state().at(p.unsafeGetTensorImpl()));
    EXPECT_EQ(state.step(), 1);
    EXPECT_GT(state.square_avg().abs().sum().item<float>(), 0);
}

TEST(FusedRmsProp, aClosureAndAChangingRateStepAsLibTorchsDo) {
    // The closure makes the gradients (from none), and the rate changes between steps, as a
    // schedule changes it: both optimizers must follow.
    auto run = [](auto& optimizer, const torch::Tensor& p) {
        for (int s = 0; s < 4; ++s) {
            for (auto& group : optimizer.param_groups())
                group.options().set_lr(1e-3 * (s + 1));
            optimizer.step([&] {
                optimizer.zero_grad();
                torch::Tensor loss = (p * p * (s + 1)).sum();
                loss.backward();
                return loss;
            });
        }
        return p.detach().clone();
    };
    const auto options = torch::optim::RMSpropOptions(1e-3).alpha(0.9).eps(1e-7);
    torch::manual_seed(9);
    const torch::Tensor start = torch::randn({70});
    torch::Tensor a = start.clone().requires_grad_(true), b = start.clone().requires_grad_(true);
    FusedRmsProp fused({a}, options);
    torch::optim::RMSprop plain({b}, options);
    const torch::Tensor fusedEnd = run(fused, a), plainEnd = run(plain, b);
    EXPECT_TRUE(fused.lastStepWasFused());
    EXPECT_FALSE(torch::allclose(fusedEnd, start));
    EXPECT_TRUE(torch::allclose(fusedEnd, plainEnd, 1e-6, 1e-7));
    // A double parameter whose gradient only the closure makes: LibTorch's step, not a crash.
    torch::Tensor d = torch::randn({9}, torch::kFloat64).requires_grad_(true);
    FusedRmsProp doubles({d}, options);
    doubles.step([&] {
        doubles.zero_grad();
        torch::Tensor loss = (d * d).sum();
        loss.backward();
        return loss;
    });
    EXPECT_FALSE(doubles.lastStepWasFused());
}

TEST(FusedRmsProp, aStepIsSeenByAutogradAsAnInPlaceChange) {
    torch::Tensor p = torch::randn({20}).requires_grad_(true);
    p.mutable_grad() = torch::randn({20});
    const auto before = p._version();
    FusedRmsProp optimizer({p}, torch::optim::RMSpropOptions(1e-3));
    optimizer.step();
    ASSERT_TRUE(optimizer.lastStepWasFused());
    EXPECT_GT(p._version(), before);
}
