#pragma once

// What the CPU kernels that compute a 3x3 convolution's outputs themselves and pool them on
// the spot (convpool, winogradpool) share: their outputs, their checks and their autograd
// function.

#include <torch/torch.h>

#include <cstdint>

namespace convscope::pooledconv {

/// The pooled output (N x C x H x W, channels_last) and, when a backward pass will follow,
/// reluMaxPool2's byte per output value (1-4: the corner that got the gradient, 0: none).
struct Pooled {
    torch::Tensor output;
    torch::Tensor codes;  // undefined when not asked for
};

inline Pooled emptyPooled(const torch::Tensor& like, std::int64_t n, std::int64_t channels,
                          std::int64_t h, std::int64_t w, bool withCodes) {
    Pooled pooled;
    pooled.output =
        torch::empty({n, channels, h, w}, like.options(), torch::MemoryFormat::ChannelsLast);
    if (withCodes)
        pooled.codes = torch::empty({n, channels, h, w}, like.options().dtype(torch::kByte),
                                    torch::MemoryFormat::ChannelsLast);
    return pooled;
}

/// A defined, strided float32 tensor on the CPU.
inline bool isFloat32Cpu(const torch::Tensor& t) {
    return t.defined() && t.device().is_cpu() && t.layout() == torch::kStrided &&
           t.scalar_type() == torch::kFloat32;
}

/// Whether `x` is an N x `in` x H x W channels_last float32 batch of at least 4 x 4 and
/// `weight`, `bias` the float32 3x3 kernels and bias of a multiple of `outBlock` channels.
inline bool layerFits(const torch::Tensor& x, const torch::Tensor& weight,
                      const torch::Tensor& bias, std::int64_t in, std::int64_t outBlock) {
    return isFloat32Cpu(x) && isFloat32Cpu(weight) && isFloat32Cpu(bias) && x.dim() == 4 &&
           x.size(0) > 0 && x.size(1) == in && x.size(2) >= 4 && x.size(3) >= 4 &&
           x.is_contiguous(torch::MemoryFormat::ChannelsLast) && weight.dim() == 4 &&
           weight.size(0) > 0 && weight.size(0) % outBlock == 0 && weight.size(1) == in &&
           weight.size(2) == 3 && weight.size(3) == 3 && bias.dim() == 1 &&
           bias.size(0) == weight.size(0);
}

/// The autograd function of such a layer: `Kernels::forward(x, weight, bias, withCodes)`
/// gives the Pooled output; `Kernels::backward(ctx, x, weight, codes, gradOutput)` the
/// gradients of x, weight and bias (undefined where not needed). x and weight are saved, and
/// the codes; not the convolution's output, which is never made.
template <typename Kernels>
class Function : public torch::autograd::Function<Function<Kernels>> {
public:
    static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                                 const torch::Tensor& weight, const torch::Tensor& bias) {
        Pooled pooled = Kernels::forward(x, weight, bias, true);
        ctx->save_for_backward({x, weight});
        ctx->saved_data["codes"] = pooled.codes;
        return pooled.output;
    }

    static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                   torch::autograd::variable_list grads) {
        const auto saved = ctx->get_saved_variables();
        return Kernels::backward(ctx, saved[0], saved[1], ctx->saved_data["codes"].toTensor(),
                                 grads[0]);
    }
};

}  // namespace convscope::pooledconv
