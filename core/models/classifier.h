#pragma once

#include "models/modelconfig.h"

#include <torch/nn/module.h>
#include <torch/types.h>

#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace convscope {

/// Sees each named layer's output during forward (feature maps, summaries, CAM).
using LayerTap = std::function<void(const std::string& layer, const torch::Tensor& output)>;

/// Base of every architecture: a classifier over [N, 3, H, W] float inputs giving logits.
/// Submodules are registered under the names that weight files use. Not thread-safe: one
/// thread trains or evaluates a model at a time; others work on a clone().
class ClassifierImpl : public torch::nn::Module {
public:
    explicit ClassifierImpl(const ModelConfig& config) : m_config(config) {}

    const ModelConfig& config() const { return m_config; }

    /// Logits [N, classes]. `tap`, when given, is called with each layer's output in order.
    /// The same as forwardHead(forwardFeatures(x, tap), tap).
    virtual torch::Tensor forward(torch::Tensor x, const LayerTap* tap = nullptr) {
        return forwardHead(forwardFeatures(std::move(x), tap), tap);
    }

    /// The backbone: everything before the head, ending with the layer named by
    /// backboneOutputLayer() (core/models/finetuning.h): the flattened feature maps for a
    /// Flatten head, the pooled ones for a GAP head. [N, 3, H, W] -> [N, D].
    virtual torch::Tensor forwardFeatures(torch::Tensor x, const LayerTap* tap = nullptr) = 0;
    /// The head: [N, D] features from forwardFeatures() -> logits [N, classes].
    virtual torch::Tensor forwardHead(torch::Tensor features, const LayerTap* tap = nullptr) = 0;

    /// Layers in forward order with output shapes and parameter counts.
    virtual std::vector<LayerInfo> summary();

    /// Marks every layer up to and including `layer` as not trainable: no gradients, and
    /// batch-norm statistics stay as they are. An empty name unfreezes everything.
    /// Throws convscope::Error for an unknown layer.
    void freezeUpTo(const std::string& layer);
    const std::string& frozenUpTo() const { return m_frozenUpTo; }

    void train(bool on = true) override;

    /// When on, every batch-norm layer stays in inference mode even while training.
    void setBatchNormInference(bool on);
    bool batchNormInference() const { return m_batchNormInference; }

    /// Names of the layers that own parameters or buffers, by their module path.
    std::vector<std::string> layerNames();

    /// When on, forward also reports conv outputs before their ReLU, named
    /// "<layer>/preactivation" (activation maximization needs a gradient where ReLU has none).
    void setPreActivationTaps(bool on) { m_preActivationTaps = on; }
    static constexpr const char* kPreActivationSuffix = "/preactivation";

protected:
    static void tapIf(const LayerTap* tap, const std::string& name, const torch::Tensor& t) {
        if (tap)
            (*tap)(name, t);
    }

    void tapPreActivation(const LayerTap* tap, const std::string& name, const torch::Tensor& t) {
        if (tap && m_preActivationTaps)
            (*tap)(name + kPreActivationSuffix, t);
    }

private:
    ModelConfig m_config;
    bool m_preActivationTaps = false;
    bool m_batchNormInference = false;
    std::string m_frozenUpTo;
    std::set<std::string> m_frozenPrefixes;
};

using Classifier = std::shared_ptr<ClassifierImpl>;

/// Builds a freshly initialised model. Throws convscope::Error for invalid configurations
/// (e.g. an input too small for the architecture).
Classifier makeClassifier(const ModelConfig& config);

/// Deep copy (weights, buffers, frozen state) for use on another thread.
Classifier cloneClassifier(const Classifier& model);

}  // namespace convscope
