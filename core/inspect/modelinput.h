#pragma once

// Internal to core: turning pixels into network inputs and reading one layer's output.

#include "data/rgbimage.h"
#include "io/modelweights.h"
#include "models/preprocessing.h"

#include <torch/types.h>

#include <optional>
#include <string>
#include <vector>

namespace convscope {

/// Loads a weight file for inference (any format of io/pretrained.h): metadata from the file,
/// else `fallback` (architecture, input size, class names), the model in eval mode. A Keras
/// backbone takes its class names and head from `fallback` (the head is untrained). A
/// fallback input size > 0 is a choice made by hand: a .pth or Keras backbone takes it, a
/// ConvScope file refuses another size than its own; 0 means not given (150 without
/// metadata). Keras conv kernels are read in `layout`. Throws convscope::Error naming the file.
Classifier loadForInference(const std::string& weightsPath,
                            const std::optional<WeightsMetadata>& fallback,
                            WeightsMetadata& metadata, LoadReport* report = nullptr,
                            KernelLayout layout = KernelLayout::Auto);

/// [N, 3, H, W] float pixels in 0..255 (RGB) to what the network expects: to BGR when the
/// preprocessing says so, x * rescale, then (x - mean) / std per channel. Differentiable.
torch::Tensor pixelsToInput(const torch::Tensor& pixels, const Preprocessing& preprocessing);

/// The inverse of pixelsToInput.
torch::Tensor inputToPixels(const torch::Tensor& input, const Preprocessing& preprocessing);

/// An image squashed to size x size (as training did) as float pixels [1, 3, size, size].
torch::Tensor imageToPixels(const RgbImage& image, int size);

/// The output of `layer` for `input`; the forward pass stops there, so later layers neither
/// run nor constrain the input size. Throws convscope::Error for a layer the model lacks.
torch::Tensor layerOutput(ClassifierImpl& model, const torch::Tensor& input,
                          const std::string& layer);
/// The outputs of several layers, in the order asked; stops once all are seen.
std::vector<torch::Tensor> layerOutputs(ClassifierImpl& model, const torch::Tensor& input,
                                        const std::vector<std::string>& layers);

}  // namespace convscope
