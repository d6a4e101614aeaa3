#pragma once

#include "io/kerasweights.h"
#include "io/weightsmetadata.h"
#include "models/classifier.h"
#include "models/kerasconfig.h"

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <memory>
#include <string>
#include <vector>

namespace convscope {

/// A network built from a Keras model config (kerasconfig.h): Sequential or functional, any
/// DAG of the supported layers, shared layers included. Runs NCHW float tensors (Keras's
/// channels-last arithmetic is kept: Flatten and Dense see NHWC order, 'same' padding is
/// TensorFlow's). Each layer with weights is a submodule named after its Keras layer:
/// Conv2D and DepthwiseConv2D a Conv2d, Dense a Linear, BatchNormalization a BatchNorm2d,
/// SeparableConv2D a module with "depthwise" and "pointwise" Conv2d. Not thread-safe: one
/// thread runs it at a time; others work on a cloneKerasGraph().
class KerasGraphImpl : public torch::nn::Module {
public:
    /// Builds the network with freshly initialised weights. Throws convscope::Error(source,
    /// ...) naming the layer for anything it cannot build: a layer whose input it cannot
    /// take, a reference to an unknown layer, a cycle, an input whose size is needed but
    /// unknown (a Dense after Flatten over a (None, None, C) input).
    KerasGraphImpl(KerasModelConfig config, const std::string& source);
    ~KerasGraphImpl() override;

    /// The first output for the one input: [N, C, H, W] (or [N, features]) -> the output,
    /// channels first. `tap`, when given, sees each layer call's output, by layer name.
    /// Throws convscope::Error for an input whose channels or fixed size do not fit.
    torch::Tensor forward(torch::Tensor x, const LayerTap* tap = nullptr);
    /// All outputs (model.outputs order) for the inputs (model.inputs order).
    std::vector<torch::Tensor> forwardAll(const std::vector<torch::Tensor>& inputs,
                                          const LayerTap* tap = nullptr);

    /// forward() for callers inside core that tell LibTorch's errors apart (the trainer's
    /// out-of-memory handling): c10::Error leaves as it is; the input is checked all the same.
    torch::Tensor compute(const torch::Tensor& x, const LayerTap* tap = nullptr);

    const KerasModelConfig& config() const;
    /// What the network was built from (a path), for messages.
    const std::string& source() const;
    /// Each input's shape without the batch dimension, channels first; -1 where unknown.
    std::vector<std::vector<std::int64_t>> inputShapes() const;
    /// Each layer call in the order forward runs them, with its output shape (channels first)
    /// and its parameter count (at its first call). Layers no output depends on are left out.
    std::vector<LayerInfo> summary() const;

    /// One layer call, as exporters (io/onnxexport.h) walk the graph.
    struct Call {
        const KerasLayer* layer = nullptr;
        std::vector<std::size_t> inputs;       ///< indices into Topology::calls
        std::vector<std::int64_t> shape;       ///< output without the batch, channels first
        torch::nn::Module* weights = nullptr;  ///< the layer's module; null without weights
    };
    struct Topology {
        std::vector<Call> calls;                   ///< in the order forward runs them, inputs first
        std::vector<std::size_t> inputs, outputs;  ///< model.inputs / model.outputs
    };
    /// The calls forward() makes. Pointers stay valid while this graph lives. Throws
    /// convscope::Error for a model input that no output depends on.
    Topology topology() const;

    /// Copies Keras weight arrays into the layers of the same name: conv kernels HWIO,
    /// depthwise kernels (H, W, in, multiplier), dense kernels (in, out), batch norm gamma,
    /// beta, moving_mean, moving_variance (without gamma / beta when scale / center is off).
    /// A layer's arrays are matched by name where all are known ("kernel:0", "Conv1/kernel",
    /// "gamma"), else in Keras's order (Keras 3's vars/0, vars/1). With `requireAll`, every
    /// layer with weights must be in the file. Throws convscope::Error(source, ...) listing
    /// every missing layer or shape mismatch, leaving the weights untouched.
    LoadReport loadWeights(const KerasWeightsFile& file, const std::string& source,
                           bool requireAll = true);

private:
    std::vector<torch::Tensor> run(const std::vector<torch::Tensor>& inputs, const LayerTap* tap,
                                   const std::string& subject);

    struct Graph;
    std::unique_ptr<Graph> m_graph;
};

TORCH_MODULE(KerasGraph);

/// Builds the network of `config` (see KerasGraphImpl). Throws convscope::Error(source, ...).
KerasGraph buildKerasGraph(const KerasModelConfig& config, const std::string& source);

/// A deep copy (weights, batch-norm statistics, training mode) for use on another thread.
KerasGraph cloneKerasGraph(const KerasGraph& model);

/// A network with its weights: `modelPath` is a TF.js layers model.json (its own shards are
/// the weights when `weightsPath` is empty) or a Keras `to_json()` file; `weightsPath` a
/// Keras HDF5 weights file (save_weights of Keras 2, Keras 3's legacy h5 layout) or a TF.js
/// model.json. Every layer with weights must be in the weights. The network is in evaluation
/// mode. Throws convscope::Error, e.g. for a to_json() file without a weights file.
KerasGraph loadKerasGraph(const std::string& modelPath, const std::string& weightsPath = "");

}  // namespace convscope
