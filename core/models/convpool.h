#pragma once

#include <torch/torch.h>

namespace convscope {

/// relu(max_pool2d(conv2d(x, weight) + bias, 2)) for a net's first layer: a 3x3 convolution,
/// stride 1, no padding, of the input images.
///
/// On a CPU with AVX-512, for float32 tensors (under bf16 autocast too: the layer then stays
/// float32, faster and more precise than oneDNN's bf16 convolution, 3 input channels giving
/// its matrix units little to do), `x` an N x 3 x H x W channels_last batch that needs no gradient
/// (the images) and 32, 64, ... output channels, it runs as one pass each way. The forward pass
/// computes each 2x2 window's four convolution outputs in registers and writes only the pooled
/// output (and, when a backward pass will follow, one byte per output value saying which corner
/// passed its gradient, as reluMaxPool2 does). The backward pass makes the weight and bias
/// gradients from those bytes, the pooled gradient and the images. The convolution's full-size
/// output and its gradient, 90 MB each per batch of 32 for the blog net at 150x150, are never
/// written.
///
/// Values and gradients equal the composition's up to the order of the sums (to the bit when
/// every sum is exact); the weight and bias gradients are the same whatever the thread count.
/// One difference: a NaN or infinity in the images that only convolution outputs outside
/// every window see (an odd last row or column) does not reach the weight gradient here,
/// where ATen multiplies it by the zero gradient there.
/// Any other case runs the composition (reluMaxPool2 after torch::conv2d). Thread-safe.
torch::Tensor convReluMaxPool2(const torch::Tensor& x, const torch::Tensor& weight,
                               const torch::Tensor& bias);

/// Whether convReluMaxPool2 takes its one-pass path for these tensors (in the current
/// autocast and grad mode). For tests and benchmarks.
bool convReluMaxPool2IsFused(const torch::Tensor& x, const torch::Tensor& weight,
                             const torch::Tensor& bias);

}  // namespace convscope
