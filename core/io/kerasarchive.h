#pragma once

#include "io/kerasweights.h"

#include <string>

namespace convscope {

/// A Keras 3 `.keras` file, as model.save("x.keras") writes it: a zip archive holding
/// config.json (the model config), metadata.json and model.weights.h5 (Keras 3's weights
/// layout). Entries may be stored (as Keras writes them) or deflated.
struct KerasArchive {
    std::string modelConfig;   ///< config.json: what parseKerasModelConfig reads
    std::string kerasVersion;  ///< metadata.json's keras_version; may be empty
    KerasWeightsFile weights;  ///< model.weights.h5
};

/// Whether the file at `path` is a zip archive holding config.json and model.weights.h5.
/// Never throws: an unreadable or damaged file is no archive.
bool isKerasArchive(const std::string& path);

/// Reads a `.keras` file; without `withValues` the weights' arrays stay empty. The weights
/// are read through a temporary file (HDF5 reads files), removed afterwards. Throws
/// convscope::Error(path, reason) for a missing or damaged archive, a missing entry, an entry
/// compressed with anything but deflate, or weights readKerasWeights refuses.
KerasArchive readKerasArchive(const std::string& path, bool withValues = true);

}  // namespace convscope
