#pragma once

#include "io/weightsfile.h"

#include <optional>
#include <string>

namespace convscope {

/// WeightsFile::open(path).loadInto(model): loads `path` into `model` by layer name, whatever
/// its format. On any error the model is untouched. Throws convscope::Error naming the file.
PretrainedLoad loadPretrainedWeights(const std::string& path, ClassifierImpl& model);

/// WeightsFile::open(path, Contents::Metadata).metadata(): what a weight file says about its
/// model, reading no tensor values. Throws convscope::Error naming the file.
std::optional<WeightsMetadata> readPretrainedMetadata(const std::string& path);

}  // namespace convscope
