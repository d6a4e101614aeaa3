#pragma once

#include "models/classifier.h"
#include "train/trainconfig.h"

#include <optional>
#include <string>
#include <vector>

namespace convscope {

/// What a weight file says about the model it belongs to (ConvScope's root attributes).
struct WeightsMetadata {
    ModelConfig model;
    std::vector<std::string> classNames;
    Preprocessing preprocessing;
};

/// What loading a weight file did, layer by layer.
struct LoadReport {
    std::vector<std::string> loaded;      ///< layers whose weights were set
    std::vector<std::string> notInModel;  ///< layers in the file the model lacks (skipped)
    std::vector<std::string> notInFile;   ///< model layers with weights the file lacks
    /// Head layers left as initialised because their shapes differ from the file's (another
    /// class count or head), by their first differing tensor:
    /// "fc.weight: file (1000, 512), model (5, 512)".
    std::vector<std::string> mismatched;
    std::optional<WeightsMetadata> metadata;  ///< when the file carries ConvScope metadata
};

/// One line per kind of outcome, for the CLI and the UI.
std::string describe(const LoadReport& report);

/// Writes the model in Keras's save_weights HDF5 layout (conv kernels HWIO, dense kernels
/// (in, out), batch norm as gamma/beta/moving_mean/moving_variance), plus the metadata, atomically.
/// Throws convscope::Error naming the file.
void saveModelWeights(const std::string& path, ClassifierImpl& model,
                      const WeightsMetadata& metadata);

/// Loads an HDF5 weight file into `model`. byName: layers are matched by name and the
/// ones missing on either side are skipped (Keras's load_weights(by_name=True)); otherwise
/// the layers with weights are matched in order and their number must agree. Any shape
/// mismatch is an error that names every mismatching layer and leaves the model untouched.
LoadReport loadModelWeights(const std::string& path, ClassifierImpl& model, bool byName);

/// The ConvScope metadata of a weight file, if it has any. Throws convscope::Error for a
/// file that is not a readable weight file.
std::optional<WeightsMetadata> readWeightsMetadata(const std::string& path);

}  // namespace convscope
