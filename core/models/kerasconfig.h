#pragma once

// A Keras model's architecture as a plain list of layers: what `model.to_json()` (Keras 2 and
// Keras 3) and a TF.js layers model.json describe, free of JSON and LibTorch, for any front end.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace convscope {

/// The Keras layer classes ConvScope builds (kerasgraph.h).
enum class KerasLayerType {
    Input,
    Conv2D,
    DepthwiseConv2D,
    SeparableConv2D,
    MaxPooling2D,
    AveragePooling2D,
    GlobalAveragePooling2D,
    GlobalMaxPooling2D,
    Dense,
    Flatten,
    Dropout,
    BatchNormalization,
    Activation,
    ReLU,
    LeakyReLU,
    Softmax,
    Add,
    Concatenate,
    ZeroPadding2D,
    Rescaling,
};

/// Keras's activation functions by their config names. HardSigmoid is Keras 3's
/// (x / 6 + 0.5, clipped); HardSigmoidLegacy is Keras 2's and TF.js's (0.2 x + 0.5, clipped).
enum class KerasActivation {
    Linear,
    Relu,
    Relu6,
    Sigmoid,
    Tanh,
    Softmax,
    Elu,
    Selu,
    Swish,
    HardSigmoid,
    HardSigmoidLegacy,
    HardSwish,
    Gelu,
    Softplus,
    Softsign,
    Exponential,
};

enum class KerasPadding { Valid, Same };

/// One input of a layer call: the output `tensor` of call `node` of layer `layer`.
struct KerasTensorRef {
    std::string layer;
    int node = 0;
    int tensor = 0;
};

/// One layer with the options ConvScope uses; the others (initialisers, regularisers,
/// constraints, trainable) do not change what the network computes and are not kept.
struct KerasLayer {
    std::string name;       ///< the Keras name: "Conv1", "mixed0"
    std::string className;  ///< as the file spells it: "Conv2D", "MaxPool2D"
    KerasLayerType type = KerasLayerType::Input;
    /// One entry per call of the layer (a shared layer has several), each with the tensors
    /// the call takes, in order. Empty for an InputLayer.
    std::vector<std::vector<KerasTensorRef>> calls;

    std::int64_t filters = 0;                  ///< Conv2D, SeparableConv2D; Dense: units
    std::array<std::int64_t, 2> kernel{1, 1};  ///< kernel_size / pool_size (rows, columns)
    std::array<std::int64_t, 2> strides{1, 1};
    std::array<std::int64_t, 2> dilation{1, 1};
    KerasPadding padding = KerasPadding::Valid;
    std::int64_t groups = 1;
    std::int64_t depthMultiplier = 1;
    bool useBias = true;
    KerasActivation activation = KerasActivation::Linear;  ///< the fused or Activation's one

    double epsilon = 1e-3;  ///< BatchNormalization
    double momentum = 0.99;
    bool center = true;
    bool scale = true;
    int axis = -1;  ///< Keras's (channels-last) axis: BatchNormalization, Concatenate, Softmax

    std::optional<double> maxValue;  ///< ReLU
    double negativeSlope = 0;        ///< ReLU; LeakyReLU's alpha / negative_slope
    double threshold = 0;            ///< ReLU

    double rate = 0;  ///< Dropout
    /// ZeroPadding2D: top, bottom, left, right.
    std::array<std::int64_t, 4> zeroPadding{0, 0, 0, 0};
    double rescale = 1;  ///< Rescaling: x * rescale + offset
    double offset = 0;
    bool keepDims = false;  ///< global pooling

    /// InputLayer: the shape without the batch dimension, in Keras's order (H, W, C or
    /// features); -1 where the file says None.
    std::vector<std::int64_t> inputShape;
};

/// A whole model: Sequential models are given the same form as functional ones (each layer
/// called once on the previous layer's output, after an input layer).
struct KerasModelConfig {
    std::string name;
    std::string className;           ///< "Sequential", "Functional" or "Model"
    std::string kerasVersion;        ///< "2.2.4", "3.15.1", "tfjs-layers 4.1.0"; may be empty
    std::vector<KerasLayer> layers;  ///< in the file's order
    std::vector<KerasTensorRef> inputs;
    std::vector<KerasTensorRef> outputs;
    /// The text was a TF.js model.json with a weightsManifest: it names its own weights.
    bool hasTfjsWeights = false;
};

/// Parses the JSON of Keras's `model.to_json()` (Keras 2 or 3, Sequential or functional), a
/// TF.js layers model.json (its modelTopology's model_config, or modelTopology itself) or a
/// bare model config. `source` names the text in errors. Throws convscope::Error(source, ...)
/// for damaged JSON, an unsupported layer ("layer 'lstm_1' is a LSTM, which ConvScope cannot
/// build (supported: ...)"), an unsupported option (data_format channels_first, an unknown
/// activation), or a nested model.
KerasModelConfig parseKerasModelConfig(const std::string& jsonText, const std::string& source);

/// Reads and parses the file at `path` (see parseKerasModelConfig). Throws convscope::Error.
KerasModelConfig readKerasModelConfig(const std::string& path);

/// The model config in the file at `path` as JSON text for ModelConfig::kerasModel: a
/// to_json() file; a TF.js layers model.json (its model config with its Keras version,
/// without its weights manifest); a whole-model HDF5 file (its model_config attribute); a
/// Keras 3 `.keras` archive (its config.json). Throws convscope::Error as readKerasModelConfig
/// does, and for an HDF5 file without a model config.
std::string readKerasModelText(const std::string& path);

/// "Conv2D, DepthwiseConv2D, ...": the layer classes ConvScope builds, for messages.
std::string supportedKerasLayers();

const char* kerasLayerTypeName(KerasLayerType type);  ///< "Conv2D", "InputLayer", ...

}  // namespace convscope
