#include "models/kerasclassifier.h"

#include "error.h"
#include "models/keraslayers.h"

#include <torch/torch.h>

#include <map>

namespace convscope {

namespace {

ModelConfig withHead(ModelConfig config, Head head) {
    config.head = head;
    return config;
}

std::string modelName(const KerasNetworkPlan& plan) {
    return plan.backbone.name.empty() ? std::string("Keras model") : plan.backbone.name;
}

}  // namespace

KerasClassifierImpl::KerasClassifierImpl(const ModelConfig& config)
    : KerasClassifierImpl(config, planKerasNetwork(config)) {}

KerasClassifierImpl::KerasClassifierImpl(const ModelConfig& config, KerasNetworkPlan plan)
    : ClassifierImpl(withHead(config, plan.headKind)), m_plan(std::move(plan)) {
    const std::string name = modelName(m_plan);
    m_backbone = buildKerasGraph(m_plan.backbone, name);
    for (const auto& child : m_backbone->named_children())
        register_module(child.key(), child.value());
    const KerasGraphImpl::Topology t = m_backbone->topology();
    const std::vector<std::int64_t>& shape = t.calls[t.outputs[0]].shape;
    if (shape.size() != 1)
        throw Error(m_plan.features,
                    "the head (a dense layer) needs a flat input, and this layer gives " +
                        keras::shapeText(shape) +
                        ": cut after it and append gap (or flatten), e.g. --cut-after " +
                        m_plan.features + " --append gap");
    if (config.classCount < 1)
        throw Error(name, "needs at least one class");
    m_head = register_module(m_plan.head, torch::nn::Linear(shape[0], config.classCount));
}

torch::Tensor KerasClassifierImpl::forwardFeatures(torch::Tensor x, const LayerTap* tap) {
    return m_backbone->compute(x, tap);
}

torch::Tensor KerasClassifierImpl::forwardHead(torch::Tensor features, const LayerTap* tap) {
    torch::Tensor logits = m_head(features);
    tapIf(tap, m_plan.head, logits);
    return logits;
}

void KerasClassifierImpl::train(bool on) {
    // The graph's own mode drives dropout and batch norm; ClassifierImpl::train then puts
    // frozen batch-norm layers back in evaluation mode.
    m_backbone->train(on);
    ClassifierImpl::train(on);
}

std::vector<LayerInfo> KerasClassifierImpl::summary() {
    std::vector<LayerInfo> rows = ClassifierImpl::summary();
    std::map<std::string, std::string> classes;
    for (const KerasLayer& l : m_plan.backbone.layers)
        classes[l.name] = l.className;
    classes[m_plan.head] = "Dense";
    for (LayerInfo& row : rows)
        if (const auto it = classes.find(row.name); it != classes.end())
            row.kind = it->second;
    return rows;
}

LoadReport KerasClassifierImpl::loadKerasWeights(const KerasWeightsFile& file,
                                                 const std::string& source) {
    return atBoundary(source, [&] {
        const LayerWeights* head = nullptr;
        for (const LayerWeights& l : file.layers)
            if (l.name == m_plan.head && !l.weights.empty())
                head = &l;
        // The head's arrays, checked before anything is loaded: kernel (in, out), bias.
        torch::Tensor kernel, bias;
        std::string mismatch;
        if (head) {
            const auto& w = m_head->weight;
            const std::vector<std::int64_t> want{w.size(1), w.size(0)};
            const WeightArray* k = nullptr;
            const WeightArray* b = nullptr;
            for (const WeightArray& a : head->weights)
                (a.shape.size() == 2 ? k : b) = &a;
            if (!k || k->shape != want || (b && b->shape != std::vector<std::int64_t>{want[1]}) ||
                head->weights.size() != (m_head->bias.defined() ? 2u : 1u)) {
                mismatch = m_plan.head + ": file " +
                           (k ? keras::shapeText(k->shape) : std::string("(no kernel)")) +
                           ", model " + keras::shapeText(want);
            } else {
                kernel =
                    torch::from_blob(const_cast<float*>(k->values.data()), k->shape).t().clone();
                if (b)
                    bias = torch::from_blob(const_cast<float*>(b->values.data()), b->shape).clone();
            }
        }
        LoadReport report = m_backbone->loadWeights(file, source, /*requireAll=*/false);
        // The backbone does not know the head: it is not "not in the model".
        std::erase(report.notInModel, m_plan.head);
        torch::NoGradGuard noGrad;
        if (kernel.defined()) {
            m_head->weight.copy_(kernel.to(m_head->weight.device()));
            if (bias.defined())
                m_head->bias.copy_(bias.to(m_head->bias.device()));
            report.loaded.push_back(m_plan.head);
        } else if (!mismatch.empty()) {
            report.mismatched.push_back(mismatch);
        } else {
            report.notInFile.push_back(m_plan.head);
        }
        return report;
    });
}

std::vector<LayerWeights> KerasClassifierImpl::kerasWeights() {
    torch::NoGradGuard noGrad;
    auto arrayOf = [](const std::string& name, const torch::Tensor& t) {
        const torch::Tensor c = t.detach().to(torch::kCPU, torch::kFloat32).contiguous();
        WeightArray a;
        a.name = name + ":0";
        a.shape.assign(c.sizes().begin(), c.sizes().end());
        a.values.assign(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
        return a;
    };
    std::map<std::string, LayerWeights> byName;
    for (const KerasGraphImpl::Call& call : m_backbone->topology().calls) {
        if (!call.weights || byName.count(call.layer->name))
            continue;
        LayerWeights& lw = byName[call.layer->name];
        lw.name = call.layer->name;
        for (const keras::WeightSlot& slot : keras::weightSlots(*call.layer, *call.weights))
            lw.weights.push_back(arrayOf(slot.name, keras::toKerasLayout(slot.target, slot)));
    }
    LayerWeights head;
    head.name = m_plan.head;
    head.weights.push_back(arrayOf("kernel", m_head->weight.t()));
    if (m_head->bias.defined())
        head.weights.push_back(arrayOf("bias", m_head->bias));
    // Keras's order: model.layers, the head where the model had it (else last).
    std::vector<LayerWeights> layers;
    for (const KerasLayer& l : m_plan.backbone.layers) {
        if (l.name == m_plan.head) {
            layers.push_back(std::move(head));
            head.name.clear();
        } else if (const auto it = byName.find(l.name); it != byName.end()) {
            layers.push_back(std::move(it->second));
        }
    }
    if (!head.name.empty())
        layers.push_back(std::move(head));
    return layers;
}

}  // namespace convscope
