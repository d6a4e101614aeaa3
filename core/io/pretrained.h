#pragma once

#include "io/weightsfile.h"

#include <optional>
#include <string>

namespace convscope {

/// WeightsFile::open(path).loadInto(model, layout): loads `path` into `model` by layer name,
/// whatever its format, Keras kernels read in `layout`. On any error the model is untouched.
/// Throws convscope::Error naming the file.
PretrainedLoad loadPretrainedWeights(const std::string& path, ClassifierImpl& model,
                                     KernelLayout layout = KernelLayout::Auto);

/// WeightsFile::open(path, Contents::Metadata).metadata(): what a weight file says about its
/// model, reading no tensor values. Throws convscope::Error naming the file.
std::optional<WeightsMetadata> readPretrainedMetadata(const std::string& path);

}  // namespace convscope
