#pragma once

// ONNX export: a trained network as an ONNX model (opset 17) that ONNX Runtime and other
// engines run without ConvScope. Plain structs, free of LibTorch and ONNX's headers, for any
// front end.

#include "io/kernellayout.h"
#include "io/weightsmetadata.h"
#include "models/preprocessing.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace convscope {

/// The ONNX operator set exported models use (ONNX 1.12 knows up to 17).
inline constexpr int kOnnxOpset = 17;

struct OnnxExportOptions {
    /// Ends the graph with a softmax over the classes: the output is then "probabilities", and
    /// the metadata says so ("softmax_applied": true).
    bool softmax = false;
    /// How exportOnnx reads a Keras file's conv kernels (io/kernellayout.h).
    KernelLayout kernelLayout = KernelLayout::Auto;
};

/// What an ONNX file holds, as describeOnnxFile() reads it back.
struct OnnxModelInfo {
    struct Tensor {
        std::string name;
        std::vector<std::string> dims;  ///< "batch" for the dynamic batch, else the size
    };
    std::string path;
    std::int64_t irVersion = 0;
    std::int64_t opset = 0;  ///< of the default domain
    std::string producer;    ///< "ConvScope 0.2.0"
    std::vector<Tensor> inputs, outputs;
    /// metadata_props: "class_names" (a JSON array), "preprocessing" (a JSON object: name,
    /// channel_order "RGB" or "BGR", rescale, mean, std, input_layout "NCHW", formula),
    /// "softmax_applied" (true or false), "model" (a JSON object: what was exported, from
    /// where); each value is JSON text.
    std::map<std::string, std::string> metadata;
    std::int64_t nodes = 0;
    std::int64_t parameters = 0;  ///< float values of the weights
    std::uint64_t bytes = 0;      ///< size of the file
};

/// Writes the network of the weight file `weightsPath` (any format io/pretrained.h reads; a
/// file without ConvScope metadata needs `fallback`, as Predictor does) to `outPath` as an ONNX
/// model: input "input", float [batch, 3, size, size], preprocessed as the metadata's
/// "preprocessing" says; output "logits" (or "probabilities") [batch, classes]; the batch
/// dimension is dynamic. The graph is built from the model's modules and weights in inference
/// form (batch norm with its moving statistics, dropout left out), checked with ONNX's checker
/// and shape inference, then written atomically. Throws convscope::Error, writing nothing:
/// for a file that cannot be loaded, weights that leave layers as initialised (a Keras backbone
/// whose head was never trained), an architecture or layer that has no ONNX export (named),
/// or a model over ONNX's 2 GB limit.
OnnxModelInfo exportOnnx(const std::string& weightsPath, const std::string& outPath,
                         const std::optional<WeightsMetadata>& fallback = {},
                         const OnnxExportOptions& options = {});

/// A Keras model (models/kerasgraph.h) to export.
struct KerasOnnxSource {
    std::string modelPath;    ///< a Keras to_json() file or a TF.js layers model.json
    std::string weightsPath;  ///< Keras HDF5 weights; empty: the TF.js model's own shards
    /// For a model with one output of one value per class; empty: "class_0", "class_1", ...
    std::vector<std::string> classNames;
    /// What the model expects of pixels (Keras files do not say): recorded in the metadata.
    Preprocessing preprocessing;
    /// Height and width for an input whose size the model leaves open (None); 0: not given.
    int inputSize = 0;
};

/// Writes a Keras model (any graph of the layers kerasconfig.h lists) as exportOnnx() does:
/// input "input", float [batch, C, H, W] (or [batch, features]). One output is "logits", a
/// softmax that ends the model left out, or "probabilities" with options.softmax; several
/// outputs keep their Keras layer names and are as the model computes them ("softmax_applied"
/// then lists each). Throws convscope::Error, writing nothing: for a model with more than one
/// input, an input of open size without `inputSize`, class names that do not fit the output,
/// options.softmax on several outputs, or a layer that has no ONNX export (named).
OnnxModelInfo exportKerasOnnx(const KerasOnnxSource& source, const std::string& outPath,
                              const OnnxExportOptions& options = {});

/// Reads an ONNX file's description (no weights are kept). Throws convscope::Error naming the
/// file when it cannot be read or is not an ONNX model.
OnnxModelInfo describeOnnxFile(const std::string& path);

}  // namespace convscope
