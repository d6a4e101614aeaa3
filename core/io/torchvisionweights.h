#pragma once

#include "io/modelweights.h"
#include "io/torchpth.h"

#include <optional>
#include <string>

namespace convscope {

/// The architecture a state_dict of torchvision's `vgg16`, `resnet18` or `mobilenet_v2` is,
/// told from its keys (VGG16 by its exact conv positions, so vgg16_bn, vgg19 or resnet34 are
/// not taken for them); nullopt for anything else.
std::optional<Architecture> torchvisionArchitecture(const TorchStateDict& dict);

/// The ConvScope model that a torchvision state_dict fills entirely: its architecture, the
/// head torchvision uses (VGG16: original, with fc1, fc2 and predictions; the others: gap),
/// input 224, and the class count read from the last layer's rows. Throws
/// convscope::Error(path, ...) when the keys are none of the three architectures.
ModelConfig torchvisionModelConfig(const TorchStateDict& dict, const std::string& path);

/// The ConvScope tensor that a torchvision key maps onto: for VGG16 "features.0.weight" ->
/// "block1_conv1.weight" ... "features.28" -> "block5_conv3", "classifier.0/3/6" -> "fc1",
/// "fc2", "predictions"; ResNet-18 and MobileNetV2 use torchvision's names already.
std::string convscopeTensorName(Architecture architecture, const std::string& torchvisionName);

/// Loads a torchvision state_dict into `model` by name. Every tensor is checked before any is
/// set, so an error leaves the model as it was. The head (VGG16's fc1, fc2, predictions,
/// ResNet's fc, MobileNetV2's classifier.1) is skipped and reported in `mismatched` when its
/// shapes differ (another class count, input size or head), so a file loads "without the
/// top"; file layers the model lacks go to `notInModel`, model layers the file lacks to
/// `notInFile`. VGG16's fc1 columns are reordered from torchvision's (C, H, W) flattening to
/// ConvScope's Keras (H, W, C) order. Throws convscope::Error(path, ...) for a state_dict of
/// another architecture than the model's, or a shape mismatch outside the head (listed).
LoadReport loadTorchvisionWeights(const TorchStateDict& dict, ClassifierImpl& model,
                                  const std::string& path);

}  // namespace convscope
