#pragma once

// The JSON form of a model and its preprocessing, shared by config.json (train/trainconfig)
// and the metadata inside weight files (io/modelweights): one codec, so the two never drift.
// Core-internal: front ends read these through TrainConfig and WeightsMetadata.

#include "models/modelconfig.h"
#include "models/preprocessing.h"

#include <nlohmann/json_fwd.hpp>

namespace convscope {

/// {"name", "rescale", "mean", "std", "bgr"}.
nlohmann::json preprocessingToJson(const Preprocessing& p);
/// Throws nlohmann::json::exception for missing keys or wrong types and convscope::Error for
/// values that cannot preprocess (validatePreprocessing); "bgr" may be absent (false).
Preprocessing preprocessingFromJson(const nlohmann::json& j);

/// Adds "architecture", "head", "flavour", "input_size", "dropout" and, when `withClassCount`,
/// "class_count" to the object `j`; for a Keras network also "keras_model" (the model config as
/// a JSON object) and, with surgery, "cut_after" and "append". Throws nlohmann's parse_error
/// for a kerasModel that is not JSON.
void addModelConfig(nlohmann::json& j, const ModelConfig& m, bool withClassCount);
/// Reads what addModelConfig writes from `j`; "flavour" may be absent (standard), and
/// "class_count" is read only when `withClassCount`. Throws like preprocessingFromJson
/// (convscope::Error for an unknown name); sizes are checked where a model is built.
ModelConfig modelConfigFromJson(const nlohmann::json& j, bool withClassCount);

}  // namespace convscope
