#pragma once

#include <torch/optim/rmsprop.h>

namespace convscope {

/// torch::optim::RMSprop whose step, for float32 CPU parameters (contiguous or channels_last)
/// without momentum or centering, is one pass over each parameter: its gradient (plus weight
/// decay), square average and value read once and the last two written once. LibTorch's step makes
/// five passes and a temporary (mul_, addcmul_, sqrt, add_, addcdiv_); for the blog net's 1.2
/// million parameters that is about 58 MB of memory traffic a step against 24 MB.
///
/// Each value is computed with the same float32 operations in the same order as LibTorch's
/// (square average times alpha, plus (1 - alpha) times the gradient times the gradient; the
/// parameter plus -lr times the gradient over the square root plus epsilon), rounded where
/// they round. Without weight decay the square averages equal its step's to the bit and the
/// parameters up to the rounding of the square root (LibTorch takes it from MKL's vector
/// library, which differs from the correctly rounded one taken here in about 0.6% of values,
/// by one unit in the last place); with weight decay that rounding reaches the square
/// averages too. The state is LibTorch's (RMSpropParamState), so checkpoints are the same
/// either way. Anything else (momentum, centered, other types or devices, gradients laid out
/// otherwise than their parameters) runs LibTorch's step; a closure runs first, so that the
/// gradients it makes decide.
class FusedRmsProp : public torch::optim::RMSprop {
public:
    using torch::optim::RMSprop::RMSprop;

    torch::Tensor step(LossClosure closure = nullptr) override;

    /// Whether the last step took the one-pass path. For tests.
    bool lastStepWasFused() const { return m_lastFused; }

private:
    bool fusable() const;

    bool m_lastFused = false;
};

}  // namespace convscope
