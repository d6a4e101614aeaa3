#pragma once

#include <torch/torch.h>

namespace convscope {

/// relu(max_pool2d(x, 2)) for an NCHW tensor. On the CPU, for float and bfloat16 tensors in
/// the channels_last layout (what every CPU training step uses), one pass each way without
/// ATen's int64 argmax indices: the forward pass writes the quarter-size output and, when a
/// backward pass will follow, one byte per output value saying which corner of its window
/// gets its gradient (none where ReLU stops it). The backward pass reads those bytes and the
/// output gradient and writes every input gradient once; the input is not kept, so a
/// convolution's full-size output is freed as soon as it is pooled (W1 in float32: peak
/// memory 864 -> 725 MB). Forward values and gradients equal ATen's (the first maximum in row
/// order, a NaN taking the window as in max_pool2d); any other case is handed to ATen. Only first
/// derivatives are defined through the fast path. Thread-safe; throws what ATen throws.
torch::Tensor reluMaxPool2(const torch::Tensor& x);

/// relu(max_pool2d(x + bias, 2)), `bias` per channel: a convolution's bias taken out of the
/// convolution. For float32 the fast path adds it to each window's corners, so forward values
/// and input gradients equal ATen's, and sums the bias gradient from the pooled gradient, a
/// quarter of the size. oneDNN's float32 weight-gradient kernel otherwise sums it in a pass of
/// its own over the convolution's whole output gradient (8% of a W1 fp32 epoch). The bias
/// gradient is the same whatever the thread count.
torch::Tensor reluMaxPool2(const torch::Tensor& x, const torch::Tensor& bias);

}  // namespace convscope
