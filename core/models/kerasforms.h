#pragma once

#include "models/modelconfig.h"

#include <string>

namespace convscope {

/// Whether a built-in network has a Keras form: the blog's small net and VGG16 (both heads
/// and VGG16's original one), and MobileNetV2 in its Keras flavour. ResNet-18 and the standard
/// MobileNetV2 follow torchvision (dotted module names, no Keras equivalent).
bool hasKerasForm(const ModelConfig& model);

/// The same network as a Keras functional model config (JSON text, Keras 2's form): the same
/// layer names, options and arithmetic, so its weight files load into either. For network
/// surgery on a built-in network. Throws convscope::Error for a network without a Keras form.
std::string kerasModelOf(const ModelConfig& model);

/// `model` as Architecture::Keras with kerasModelOf(model) and its cut and append kept; a
/// Keras network comes back as it is. Throws as kerasModelOf does.
ModelConfig asKerasNetwork(const ModelConfig& model);

}  // namespace convscope
