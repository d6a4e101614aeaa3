#pragma once

#include <string>

namespace convscope {

/// What kind of weight file a path holds, judged by its content.
enum class WeightsFormat {
    ConvScope,        ///< HDF5 with ConvScope's metadata (a trained model)
    KerasHdf5,        ///< Keras HDF5 without it (save_weights or an applications file)
    TfjsLayersModel,  ///< a TF.js layers model's model.json
};

/// Throws convscope::Error for a missing file or one of no known format.
WeightsFormat detectWeightsFormat(const std::string& path);

}  // namespace convscope
