#pragma once

#include "io/kerasweights.h"
#include "io/weightsmetadata.h"
#include "models/classifier.h"
#include "models/kerasgraph.h"
#include "models/kerassurgery.h"

#include <torch/nn/modules/linear.h>

#include <string>
#include <vector>

namespace convscope {

/// A classifier built from a Keras model config (ModelConfig::kerasModel, Architecture::Keras):
/// the backbone is a KerasGraph of every layer up to what the head reads, the head one dense
/// layer with a unit per class (planKerasNetwork). Layers are registered under their Keras
/// names, so freezing, inspection, fine-tuning and the Keras weights layout work as for the
/// built-in networks. Not thread-safe, like every Classifier.
class KerasClassifierImpl : public ClassifierImpl {
public:
    /// Throws convscope::Error naming the model or layer it cannot build.
    explicit KerasClassifierImpl(const ModelConfig& config);

    torch::Tensor forwardFeatures(torch::Tensor x, const LayerTap* tap = nullptr) override;
    torch::Tensor forwardHead(torch::Tensor features, const LayerTap* tap = nullptr) override;
    void train(bool on = true) override;

    /// Keras class names as the kinds ("Conv2D", "Concatenate", ...).
    std::vector<LayerInfo> summary() override;

    const KerasNetworkPlan& plan() const { return m_plan; }
    const KerasGraph& backbone() const { return m_backbone; }
    torch::nn::Linear& head() { return m_head; }

    /// Copies the file's arrays into the layers of the same name (KerasGraphImpl::loadWeights
    /// without requireAll); the head's only where its shape fits (another class count leaves
    /// it as initialised, listed in `mismatched`). Throws convscope::Error, leaving the weights
    /// untouched, for a backbone layer whose arrays do not fit.
    LoadReport loadKerasWeights(const KerasWeightsFile& file, const std::string& source);
    /// The layers with weights in Keras's layout and order (model.layers), for
    /// writeKerasWeights.
    std::vector<LayerWeights> kerasWeights();

private:
    KerasClassifierImpl(const ModelConfig& config, KerasNetworkPlan plan);

    KerasNetworkPlan m_plan;
    KerasGraph m_backbone{nullptr};
    torch::nn::Linear m_head{nullptr};
};

}  // namespace convscope
