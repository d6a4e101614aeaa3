#pragma once

#include <torch/torch.h>

namespace convscope {

/// relu(max_pool2d(conv2d(x, weight) + bias, 2)) for a net's inner layers: a 3x3 convolution,
/// stride 1, no padding, of feature maps with 32, 64, ... channels.
///
/// On a CPU with AVX-512, for float32 tensors outside autocast, `x` an N x C x H x W
/// channels_last batch and 32, 64, ... input and output channels, every pass is Winograd's
/// F(2x2, 3x3) (Lavin and Gray, 2016), with each 2x2 pooling window one tile: a tile's four
/// convolution outputs come from 16 products per channel pair instead of 36.
/// - Forward: the four outputs are pooled in registers; only the pooled output is written
///   (and, when a backward pass will follow, reluMaxPool2's byte per output value naming the
///   corner that gets the gradient).
/// - Input gradient: the same transform over the kernels turned by 180 degrees, its 4 x 4
///   blocks of the convolution's output gradient made on the spot from the pooled gradient
///   and those bytes. The convolution's full-size output and its gradient are never made.
/// - Weight and bias gradients: per tile, the transformed input times the transformed output
///   gradient, summed in parts of fixed rows that are added in order in double, so that they
///   are the same whatever the thread count.
///
/// The transforms add and subtract, and halve the weights, so every value is the
/// composition's up to rounding: to the bit when every sum is exact (small integers), within
/// about 1e-6 of the largest term otherwise, as with cuDNN's Winograd kernels. A NaN in `x`
/// reaches the same convolution outputs as in ATen's (the transforms' zero coefficients are
/// never multiplied), so the pooled output and the input gradient are the same; in the weight
/// gradient it reaches its input channel's kernels at transform positions rather than where
/// ATen's products (zero gradients included) put it, and a pixel under no pooling window (an
/// odd last row or column of outputs) is not read at all. An infinity can become a NaN inside
/// the transforms (inf - inf) where ATen gives an infinity. Only first derivatives are defined
/// through the fast path (its backward pass is not differentiable). Any other case runs the
/// composition (reluMaxPool2 after torch::conv2d). Thread-safe.
torch::Tensor winogradConvReluMaxPool2(const torch::Tensor& x, const torch::Tensor& weight,
                                       const torch::Tensor& bias);

/// Whether winogradConvReluMaxPool2 takes its Winograd path for these tensors (in the current
/// autocast mode). For tests and benchmarks.
bool winogradConvReluMaxPool2Applies(const torch::Tensor& x, const torch::Tensor& weight,
                                     const torch::Tensor& bias);

}  // namespace convscope
