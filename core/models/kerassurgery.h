#pragma once

// Network surgery on a Keras model config: cut after a layer, append layers from a short
// spec, and the plan that turns a Keras config into a classifier (backbone + dense head).
// Free of LibTorch, for any front end.

#include "models/kerasconfig.h"
#include "models/modelconfig.h"

#include <string>
#include <vector>

namespace convscope {

/// The layers of an append spec, comma-separated, each ending the chain so far:
///   conv:F:K[:S]   Conv2D, F filters, K x K, stride S (1), 'same' padding, ReLU
///   sepconv:F:K    SeparableConv2D, as conv
///   maxpool:P      MaxPooling2D, P x P, stride P      avgpool:P  AveragePooling2D, the same
///   gap            GlobalAveragePooling2D             gmp        GlobalMaxPooling2D
///   flatten        Flatten                            bn         BatchNormalization
///   relu           ReLU                               dense:U    Dense, U units, ReLU
///   dropout:R      Dropout, rate R in [0, 1)
/// Names are Keras's class names in snake case after "added_" ("added_conv2d",
/// "added_conv2d_1", ...), made unique against `taken`. The first layer takes `input`; each
/// next one the layer before it. Throws convscope::Error("--append", ...) naming the item.
std::vector<KerasLayer> parseAppendSpec(const std::string& spec, const std::string& input,
                                        const std::vector<std::string>& taken);

/// `config` cut after layer `cutAfter` (its last call): the model's output becomes that layer,
/// and the layers of `appendSpec` (parseAppendSpec) follow it. Layers that no longer lead to
/// the output stay in the list but are not built. Throws convscope::Error for an unknown
/// layer, an input layer, or a bad spec.
KerasModelConfig cutAndAppend(KerasModelConfig config, const std::string& cutAfter,
                              const std::string& appendSpec);

/// How a Keras network becomes a classifier (models/kerasclassifier.h): its backbone, every
/// layer up to what the head reads, and the head, one dense layer with a unit per class.
struct KerasNetworkPlan {
    KerasModelConfig backbone;  ///< the model, input sized, its one output what the head reads
    std::string head;           ///< the head's layer name
    /// GlobalAveragePool where the head reads global average pooling (through dropout at
    /// most): CAM-ready. Original otherwise.
    Head headKind = Head::Original;
    std::string features;  ///< the backbone's output layer: what backboneOutputLayer() names
    /// The last block for two-phase fine-tuning (models/finetuning.h): the last Add or
    /// Concatenate that every path passes through and that convolutions follow (InceptionV3's
    /// mixed9, MobileNetV2's block_15_add), else the layer before the last convolution.
    std::string freezePoint;
};

/// The plan for a ModelConfig of Architecture::Keras: its kerasModel parsed, its input set to
/// inputSize x inputSize x 3, surgery applied (cutAfter, append), then split. Without surgery
/// the model's output must be a dense layer (a softmax or sigmoid after it, fused or as its own
/// layer, is left out: the classifier gives logits); it becomes the head, with classCount
/// units. With surgery the head is a new dense layer, "predictions". Throws convscope::Error
/// naming the model for anything else (several inputs or outputs, an input that is not an RGB
/// image, an output that is not a dense layer).
KerasNetworkPlan planKerasNetwork(const ModelConfig& model);

/// The network in a few words for listings: a built-in's name ("vgg16"), or for a Keras
/// network "keras <model name>" with its surgery ("keras model_1, cut after mixed10 + gap").
/// Never throws: a config it cannot read is just "keras".
std::string networkName(const ModelConfig& model);

}  // namespace convscope
