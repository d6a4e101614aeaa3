#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace convscope {

/// One weight array of a layer: one HDF5 dataset, float32 on disk.
struct WeightArray {
    /// The stored name without its first path component (the layer prefix): "kernel:0",
    /// "gamma:0", "moving_mean:0"; for a nested model's "block/conv/kernel:0", "conv/kernel:0".
    std::string name;
    /// The name as listed in the layer's weight_names, e.g. "block1_conv1/kernel:0". Filled by
    /// reading; when writing, empty means "<layer>/<name>", anything else is written as is.
    std::string storedName;
    /// As stored in the file, Keras layout: conv kernels HWIO, dense kernels (in, out).
    /// Empty for a scalar.
    std::vector<std::int64_t> shape;
    /// Row-major; as many values as the shape holds.
    std::vector<float> values;
};

/// One layer: a group named after it. Layers without weights are allowed.
struct LayerWeights {
    std::string name;
    std::vector<WeightArray> weights;  ///< in Keras order (trainable first, then non-trainable)
};

/// The contents of a Keras 2 `model.save_weights("x.h5")` file.
struct KerasWeightsFile {
    std::vector<LayerWeights> layers;  ///< in model order (the order of layer_names)
    /// ConvScope's metadata: root string attributes named "convscope_<key>" (JSON text where a
    /// value is structured), fixed-length UTF-8 (variable-length past 64512 bytes); h5py reads
    /// them as bytes. Other root attributes are not read.
    std::map<std::string, std::string> metadata;
    /// The root attributes keras_version and backend; reading a file that lacks them leaves
    /// them empty (Keras then assumes a Keras 1 file).
    std::string kerasVersion = "2.11.0";
    std::string backend = "tensorflow";
    /// The root attribute model_config of a whole-model `model.save("x.h5")` file: the model's
    /// JSON, as to_json() gives it. Empty for save_weights files; never written.
    std::string modelConfig;
};

/// Writes `file` in Keras 2's HDF5 weights layout: root attributes layer_names (fixed-length
/// byte strings), backend and keras_version; per layer a group with attribute weight_names
/// and one float32 dataset per weight at "<layer>/<stored name>". Long name lists are split
/// into "layer_names0", "layer_names1", ... as Keras does. Atomic: a temporary file in the
/// same folder is written, fsync'd and renamed over `path`, so a failure or crash never leaves
/// a half-written file at `path` (the old file, if any, stays). Thread-safe (HDF5 calls are
/// serialised). Throws convscope::Error(path, reason), e.g. for a layer name with '/', two
/// layers of one name, or values that do not fill their shape.
void writeKerasWeights(const std::string& path, const KerasWeightsFile& file);

/// Reads a Keras 2 HDF5 weights file, whether written by writeKerasWeights or by Keras/h5py:
/// fixed-length or variable-length name attributes, chunked name lists, weight names whose
/// prefix is not the layer's, float16/float64/integer datasets (converted to float), and the
/// "model_weights" group of a whole-model `model.save("x.h5")` file; also Keras 3's
/// `save_weights("x.weights.h5")` layout ("layers/<path>/vars/<i>", layer names from the vars
/// groups' "name" attribute, arrays named "0", "1", ... in Keras's order, kerasVersion "3").
/// Thread-safe. Throws
/// convscope::Error(path, reason) for a missing, empty, truncated, damaged or non-HDF5 file,
/// or one without Keras's layout; HDF5 prints nothing to stderr. Without `withValues`, only
/// names, shapes and metadata are read (every array's `values` stays empty).
KerasWeightsFile readKerasWeights(const std::string& path, bool withValues = true);

}  // namespace convscope
