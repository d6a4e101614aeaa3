#pragma once

// Internal to core: what each Keras layer class computes, in NCHW, and where its Keras weight
// arrays go. Only kerasgraph.cpp includes this (with LibTorch from the precompiled header).

#include "models/kerasconfig.h"

#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

namespace convscope::keras {

/// A tensor's shape without the batch dimension, channels first: (C, H, W) for images,
/// (features) for vectors; -1 where unknown (None in Keras).
using Shape = std::vector<std::int64_t>;

std::string shapeText(const Shape& shape);  ///< "(32, 112, 112)", "None" for -1

/// SeparableConv2D's two convolutions: depthwise (groups = input channels), then 1x1.
class SeparableConv2dImpl : public torch::nn::Module {
public:
    SeparableConv2dImpl(std::int64_t in, std::int64_t multiplier, std::int64_t out,
                        std::array<std::int64_t, 2> kernel, bool bias);
    torch::nn::Conv2d depthwise{nullptr};
    torch::nn::Conv2d pointwise{nullptr};
};

/// The output shape of one call of `layer` on inputs of these shapes. Throws
/// convscope::Error(source, ...) naming the layer for inputs it cannot take.
Shape outputShape(const KerasLayer& layer, const std::vector<Shape>& inputs,
                  const std::string& source);

/// The module that holds the layer's weights, built for the input shape of its first call;
/// nullptr for layers without weights.
std::shared_ptr<torch::nn::Module> makeWeights(const KerasLayer& layer, const Shape& input);

/// One call of `layer` (`weights` from makeWeights) on NCHW / (N, features) tensors.
torch::Tensor runLayer(const KerasLayer& layer, torch::nn::Module* weights,
                       const std::vector<torch::Tensor>& inputs, bool training);

/// How a Keras array becomes its torch tensor.
enum class ArrayLayout {
    AsIs,             ///< bias, gamma, beta, moving statistics
    ConvKernel,       ///< (kh, kw, in / groups, out) -> (out, in / groups, kh, kw)
    DepthwiseKernel,  ///< (kh, kw, in, multiplier) -> (in * multiplier, 1, kh, kw)
    DenseKernel,      ///< (in, out) -> (out, in)
};

/// One weight array of a layer, in Keras's order for the layer.
struct WeightSlot {
    std::string name;  ///< Keras's: "kernel", "depthwise_kernel", "bias", "moving_mean", ...
    std::vector<std::int64_t> kerasShape;
    ArrayLayout layout = ArrayLayout::AsIs;
    torch::Tensor target;  ///< the parameter or buffer it is copied into
};

/// The arrays Keras saves for `layer`, in Keras's order (kernel before bias; gamma, beta,
/// moving_mean, moving_variance, without gamma when scale is off and beta when center is).
std::vector<WeightSlot> weightSlots(const KerasLayer& layer, torch::nn::Module& weights);

/// A Keras-layout array (already of slot.kerasShape) in the slot's torch layout.
torch::Tensor toTorchLayout(const torch::Tensor& keras, const WeightSlot& slot);
/// The inverse: the slot's tensor in Keras's layout, of slot.kerasShape.
torch::Tensor toKerasLayout(const torch::Tensor& torch, const WeightSlot& slot);

}  // namespace convscope::keras
