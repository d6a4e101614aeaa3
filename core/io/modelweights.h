#pragma once

#include "io/kerasweights.h"
#include "io/kernellayout.h"
#include "io/weightsmetadata.h"
#include "models/classifier.h"

#include <optional>
#include <string>
#include <vector>

namespace convscope {

/// Writes the model in Keras's save_weights HDF5 layout (conv kernels HWIO, dense kernels
/// (in, out), batch norm as gamma/beta/moving_mean/moving_variance), plus the metadata, atomically.
/// Throws convscope::Error naming the file.
void saveModelWeights(const std::string& path, ClassifierImpl& model,
                      const WeightsMetadata& metadata);

/// Loads an HDF5 weight file into `model`. byName: layers are matched by name and the
/// ones missing on either side are skipped (Keras's load_weights(by_name=True)); a file
/// without ConvScope metadata none of whose names match, or a Keras 1 file (no keras_version:
/// convolution2d_1, dense_1, ...) whose names do not pair every layer, is matched in order
/// instead when the numbers of layers with weights agree, and the report's notes say so. Otherwise
/// the layers with weights are matched in order and their number must agree. Conv kernels and the
/// dense layer after Flatten are read in `layout` (io/kernellayout.h; what it found goes to the
/// report's notes). Any shape mismatch is an error that names every mismatching layer and leaves
/// the model untouched.
LoadReport loadModelWeights(const std::string& path, ClassifierImpl& model, bool byName,
                            KernelLayout layout = KernelLayout::Auto);
/// The same for weights already in memory; `source` names them in errors.
LoadReport loadModelWeights(const KerasWeightsFile& file, const std::string& source,
                            ClassifierImpl& model, bool byName,
                            KernelLayout layout = KernelLayout::Auto);

/// Transfer learning ("without the top"): loads the model's backbone from `file` by layer
/// name and leaves its head (the dense layers) as initialised; the file's layers that the
/// model lacks, its own classifier included, are skipped and listed in notInModel. Arrays are
/// matched by their names where these are known (kernel, bias, gamma, beta, moving_mean,
/// moving_variance, depthwise_kernel, and Keras 1's "<layer>_W_1:0" / "<layer>_b_1:0"), else
/// in order; conv kernels are read in `layout` as loadModelWeights does. Throws
/// convscope::Error, leaving the model untouched, when a backbone layer is missing from the
/// file or any shape differs (every one is named).
LoadReport loadBackboneWeights(const KerasWeightsFile& file, const std::string& source,
                               ClassifierImpl& model, KernelLayout layout = KernelLayout::Auto);

/// The ConvScope metadata of a weight file, if it has any. Reads no tensor values. Throws
/// convscope::Error for a file that is not a readable weight file.
std::optional<WeightsMetadata> readWeightsMetadata(const std::string& path);
/// The same for a file already read; `path` names it in errors (damaged metadata).
std::optional<WeightsMetadata> metadataOf(const KerasWeightsFile& file, const std::string& path);

}  // namespace convscope
