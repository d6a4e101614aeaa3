#pragma once

#include "io/kerasweights.h"

#include <string>
#include <vector>

namespace convscope {

/// One layer of a TF.js layers model's Keras topology, nested models flattened.
struct TfjsLayer {
    std::string name;       ///< "Conv1", "block_1_expand_BN"
    std::string className;  ///< "Conv2D", "BatchNormalization", "ZeroPadding2D", ...
};

/// A TF.js layers model (`model.json` + binary weight shards), as tfjs-converter or
/// `model.save()` writes it.
struct TfjsModel {
    std::string kerasVersion;  ///< modelTopology.keras_version, when given
    /// The Keras model config (modelTopology's model_config, or modelTopology itself) as JSON
    /// text: what parseKerasModelConfig reads and ModelConfig::kerasModel holds.
    std::string modelConfig;
    std::vector<TfjsLayer> layers;  ///< in topology order
    /// From the input layer's batch_input_shape (or batch_shape); 0 where unknown (None).
    int inputHeight = 0;
    int inputWidth = 0;
    /// The weights, dequantized to float32 and grouped by layer (the part of "Conv1/kernel"
    /// before the last '/'), arrays named "kernel:0" and so on with the TF.js name as their
    /// storedName; layers in topology order. Shapes are Keras's (HWIO, depthwise HWC1).
    KerasWeightsFile weights;
};

/// Reads `model.json` and, unless `withWeights` is false, its weight shards (paths relative to
/// the model.json's folder; each group's shards are concatenated, then cut into the manifest's
/// weights in order). Quantized weights are dequantized as TF.js does: uint8 and uint16 as
/// min + scale * q (in double precision, then rounded to float32), float16 as IEEE half.
/// Throws convscope::Error naming the file for: no modelTopology or a graph model, a missing
/// or short shard, an unknown dtype or quantization dtype, a shape that does not fit.
TfjsModel readTfjsModel(const std::string& modelJsonPath, bool withWeights = true);

/// The names of `model`'s layers, in topology order.
std::vector<std::string> layerNames(const TfjsModel& model);

/// True when the file at `path` starts (after white space) with '{': a JSON document.
bool looksLikeJson(const std::string& path);

}  // namespace convscope
