#pragma once

#include "models/modelconfig.h"

#include <string>

namespace convscope {

/// The layer whose output the head receives: "flatten" for a Flatten head (and VGG16's and the
/// small net's original heads); for a pooling head "global_average_pooling2d" (small, vgg16,
/// Keras-flavour mobilenetv2) or "avgpool" (resnet18, mobilenetv2). Freezing up
/// to it (ClassifierImpl::freezeUpTo) freezes the whole backbone and nothing of the head.
std::string backboneOutputLayer(const ModelConfig& model);

/// The last layer before the architecture's "last block", the part that phase 2 of the
/// two-phase fine-tuning recipe trains again together with the head. Freezing up to it keeps
/// everything earlier fixed:
///   small        last conv (conv2d_2)                  frozen up to max_pooling2d_1
///   vgg16        block5 (block5_conv1..3)              frozen up to block4_pool
///   resnet18     layer4                                frozen up to layer3
///   mobilenetv2  the 160- and 320-channel inverted residual stages at 1/32 resolution
///                (features.14..17) and the final 1x1 conv (features.18)
///                                                      frozen up to features.13
///   mobilenetv2, Keras flavour: the same stages, Keras's block_13..block_16 and Conv_1
///                                                      frozen up to block_12_add
///   keras        KerasNetworkPlan::freezePoint (models/kerassurgery.h)
/// For a Keras network these parse its model config and throw convscope::Error as
/// planKerasNetwork does.
std::string lastBlockFreezePoint(const ModelConfig& model);

/// The last block in words, as in the table above ("block5", "layer4", ...).
std::string lastBlockName(const ModelConfig& model);

}  // namespace convscope
