// ConvScope's own architectures as ONNX graphs. Each function here follows its architecture's
// forward() (models/kerasnets.cpp, torchvisionnets.cpp, kerasmobilenetv2.cpp) and takes every
// option and weight from the registered modules; tests/e2e/test_onnx_export.py compares the
// result with ConvScope's own logits through ONNX Runtime.
#include "io/onnxgraph.h"

#include "error.h"
#include "models/classifier.h"
#include "models/kerasclassifier.h"

#include <torch/torch.h>

#include <map>
#include <optional>
#include <set>

namespace convscope::onnxgraph {

namespace {

namespace nn = torch::nn;

class ModuleWalker {
public:
    ModuleWalker(GraphBuilder& graph, ClassifierImpl& model) : m_graph(graph), m_model(model) {
        for (const auto& item : model.named_modules("", false))
            m_modules[item.key()] = item.value().get();
    }

    bool has(const std::string& name) const { return m_modules.count(name) > 0; }

    nn::Module& module(const std::string& name) {
        const auto it = m_modules.find(name);
        if (it == m_modules.end())
            m_graph.fail(name, "is missing from the " + kind() + " model");
        return *it->second;
    }

    template <class T>
    T& get(const std::string& name) {
        nn::Module& m = module(name);
        auto* typed = dynamic_cast<T*>(&m);
        if (!typed)
            m_graph.fail(name, "(" + m.name() + ") is not the layer the " + kind() +
                                   " architecture has there");
        m_used.insert(&m);
        return *typed;
    }

    /// A conv with its own padding, or with `pads` (an explicit zero padding folded in).
    Value conv(const Value& x, const std::string& name, std::optional<Pads> pads = {}) {
        return conv(x, name, get<nn::Conv2dImpl>(name), pads);
    }

    Value conv(const Value& x, const std::string& name, nn::Conv2dImpl& c,
               std::optional<Pads> pads = {}) {
        m_used.insert(&c);
        const auto& o = c.options;
        if (!std::holds_alternative<torch::enumtype::kZeros>(o.padding_mode()))
            m_graph.fail(name, "pads by other values than zeros, which the export does not write");
        const Pair kernel{(*o.kernel_size())[0], (*o.kernel_size())[1]};
        const Pair stride{(*o.stride())[0], (*o.stride())[1]};
        const Pair dilation{(*o.dilation())[0], (*o.dilation())[1]};
        if (!pads) {
            if (const auto* p = std::get_if<torch::ExpandingArray<2>>(&o.padding())) {
                pads = Pads{(**p)[0], (**p)[1], (**p)[0], (**p)[1]};
            } else if (std::holds_alternative<torch::enumtype::kValid>(o.padding())) {
                pads = Pads{0, 0, 0, 0};
            } else {
                // torch's 'same' (stride 1): the odd cell of the total goes after.
                const std::int64_t h = dilation[0] * (kernel[0] - 1),
                                   w = dilation[1] * (kernel[1] - 1);
                pads = Pads{h / 2, w / 2, h - h / 2, w - w / 2};
            }
        }
        return m_graph.conv(x, name, c.weight, c.bias, stride, dilation, o.groups(), *pads);
    }

    Value batchNorm(const Value& x, const std::string& name) {
        return batchNorm(x, name, get<nn::BatchNorm2dImpl>(name));
    }

    Value batchNorm(const Value& x, const std::string& name, nn::BatchNorm2dImpl& bn) {
        m_used.insert(&bn);
        if (!bn.running_mean.defined())
            m_graph.fail(name, "keeps no running statistics, so it has no inference form");
        const std::int64_t c = bn.options.num_features();
        const torch::Tensor gamma = bn.weight.defined() ? bn.weight : torch::ones({c});
        const torch::Tensor beta = bn.bias.defined() ? bn.bias : torch::zeros({c});
        return m_graph.batchNorm(x, name, gamma, beta, bn.running_mean, bn.running_var,
                                 bn.options.eps());
    }

    Value dense(const Value& x, const std::string& name) {
        auto& linear = get<nn::LinearImpl>(name);
        return m_graph.dense(x, name, linear.weight, linear.bias);
    }

    void dropout(const std::string& name) { get<nn::DropoutImpl>(name); }

    /// Any module made of the standard ones, run as its forward runs it: sequences in order,
    /// torchvision's inverted residuals and basic blocks with their shortcuts.
    Value walk(const Value& x, nn::Module& m, const std::string& path) {
        m_used.insert(&m);
        if (auto* c = dynamic_cast<nn::Conv2dImpl*>(&m))
            return conv(x, path, *c);
        if (auto* bn = dynamic_cast<nn::BatchNorm2dImpl*>(&m))
            return batchNorm(x, path, *bn);
        if (dynamic_cast<nn::ReLUImpl*>(&m))
            return m_graph.unary("Relu", x, path);
        if (dynamic_cast<nn::ReLU6Impl*>(&m))
            return m_graph.clip(x, path, 0, 6);
        if (dynamic_cast<nn::DropoutImpl*>(&m))
            return x;
        if (auto* linear = dynamic_cast<nn::LinearImpl*>(&m))
            return m_graph.dense(x, path, linear->weight, linear->bias);
        if (dynamic_cast<nn::SequentialImpl*>(&m)) {
            Value y = x;
            for (const auto& child : m.named_children())
                y = walk(y, *child.value(), join(path, child.key()));
            return y;
        }
        std::set<std::string> children;
        for (const auto& child : m.named_children())
            children.insert(child.key());
        if (children == std::set<std::string>{"conv"})
            return invertedResidual(x, m, path);
        if (children.count("conv1") && children.count("bn1") && children.count("conv2") &&
            children.count("bn2"))
            return basicBlock(x, path);
        m_graph.fail(path, "(" + m.name() + ") is a module the ONNX export does not know");
    }

    /// Every module with weights of its own must have been exported.
    void checkAllUsed() {
        for (const auto& [name, m] : m_modules) {
            if (m_used.count(m) || (m->parameters(false).empty() && m->buffers(false).empty()))
                continue;
            m_graph.fail(name, "(" + m->name() + ") has weights but no place in the exported " +
                                   kind() + " graph");
        }
    }

    GraphBuilder& graph() { return m_graph; }
    const ModelConfig& config() const { return m_model.config(); }

private:
    static std::string join(const std::string& path, const std::string& child) {
        return path.empty() ? child : path + "." + child;
    }

    std::string kind() const { return architectureName(m_model.config().architecture); }

    Value invertedResidual(const Value& x, nn::Module& m, const std::string& path) {
        bool strideOne = true;
        for (const auto& item : m.named_modules("", false))
            if (auto* c = dynamic_cast<nn::Conv2dImpl*>(item.value().get()))
                strideOne =
                    strideOne && (*c->options.stride())[0] == 1 && (*c->options.stride())[1] == 1;
        const Value y = walk(x, *m.named_children()[0].value(), join(path, "conv"));
        if (strideOne && y.shape == x.shape)
            return m_graph.add({x, y}, join(path, "add"));
        return y;
    }

    Value basicBlock(const Value& x, const std::string& path) {
        Value y = conv(x, join(path, "conv1"));
        y = m_graph.unary("Relu", batchNorm(y, join(path, "bn1")), join(path, "relu1"));
        y = batchNorm(conv(y, join(path, "conv2")), join(path, "bn2"));
        const std::string down = join(path, "downsample");
        const Value shortcut = has(down) ? walk(x, module(down), down) : x;
        return m_graph.unary("Relu", m_graph.add({y, shortcut}, join(path, "add")),
                             join(path, "relu2"));
    }

    GraphBuilder& m_graph;
    ClassifierImpl& m_model;
    std::map<std::string, nn::Module*> m_modules;
    std::set<const nn::Module*> m_used;
};

/// The Keras blog net and VGG16 reduce their maps as Keras does: flattened channels last, or
/// averaged ("global_average_pooling2d").
Value kerasFlattenOrPool(ModuleWalker& w, const Value& maps) {
    if (w.config().head == Head::GlobalAveragePool)
        return w.graph().globalPool(maps, "global_average_pooling2d", false, false);
    return w.graph().flatten(maps, "flatten", true);
}

Value denseRelu(ModuleWalker& w, const Value& x, const std::string& name) {
    return w.graph().unary("Relu", w.dense(x, name), name + "/relu");
}

Value smallConvNet(ModuleWalker& w, Value x) {
    GraphBuilder& g = w.graph();
    const char* convs[] = {"conv2d", "conv2d_1", "conv2d_2"};
    const char* pools[] = {"max_pooling2d", "max_pooling2d_1", "max_pooling2d_2"};
    for (int i = 0; i < 3; ++i) {
        x = g.unary("Relu", w.conv(x, convs[i]), std::string(convs[i]) + "/relu");
        x = g.maxPool(x, pools[i], {2, 2}, {2, 2}, {0, 0, 0, 0});
    }
    x = kerasFlattenOrPool(w, x);
    if (w.config().head == Head::GlobalAveragePool)
        return w.dense(x, "dense");
    x = denseRelu(w, x, "dense");
    w.dropout("dropout");
    return w.dense(x, "dense_1");
}

Value vgg16(ModuleWalker& w, Value x) {
    GraphBuilder& g = w.graph();
    for (int block = 1; block <= 5; ++block) {
        const std::string prefix = "block" + std::to_string(block);
        for (int i = 1; w.has(prefix + "_conv" + std::to_string(i)); ++i) {
            const std::string name = prefix + "_conv" + std::to_string(i);
            x = g.unary("Relu", w.conv(x, name), name + "/relu");
        }
        x = g.maxPool(x, prefix + "_pool", {2, 2}, {2, 2}, {0, 0, 0, 0});
    }
    const Head head = w.config().head;
    if (head == Head::Original)
        x = g.adaptiveAveragePool(x, "adaptive_avg_pool", {7, 7});
    x = kerasFlattenOrPool(w, x);
    if (head != Head::GlobalAveragePool) {
        x = denseRelu(w, x, "fc1");
        w.dropout("dropout");
    }
    if (head == Head::Original) {
        x = denseRelu(w, x, "fc2");
        w.dropout("dropout_1");
    }
    return w.dense(x, "predictions");
}

/// torchvision's heads: the maps averaged ("avgpool"), or flattened channels first.
Value torchPoolOrFlatten(ModuleWalker& w, const Value& maps) {
    if (w.config().head == Head::Flatten)
        return w.graph().flatten(maps, "flatten", false);
    return w.graph().globalPool(maps, "avgpool", false, false);
}

Value resNet18(ModuleWalker& w, Value x) {
    GraphBuilder& g = w.graph();
    x = g.unary("Relu", w.batchNorm(w.conv(x, "conv1"), "bn1"), "relu");
    x = g.maxPool(x, "maxpool", {3, 3}, {2, 2}, {1, 1, 1, 1});
    for (int i = 1; i <= 4; ++i) {
        const std::string name = "layer" + std::to_string(i);
        x = w.walk(x, w.module(name), name);
    }
    return w.dense(torchPoolOrFlatten(w, x), "fc");
}

Value mobileNetV2(ModuleWalker& w, Value x) {
    x = w.walk(x, w.module("features"), "features");
    return w.walk(torchPoolOrFlatten(w, x), w.module("classifier"), "classifier");
}

/// Keras Applications' MobileNetV2: a stride-2 conv is padded first by Keras's correct_pad
/// (one cell after, and one before an odd side), folded here into the conv's own padding.
Value kerasStage(ModuleWalker& w, const Value& x, const std::string& conv, const std::string& bn,
                 const std::string& relu) {
    auto& c = w.get<nn::Conv2dImpl>(conv);
    std::optional<Pads> pads;
    if ((*c.options.stride())[0] == 2)
        pads = Pads{x.shape[1] % 2, x.shape[2] % 2, 1, 1};
    Value y = w.batchNorm(w.conv(x, conv, pads), bn);
    return relu.empty() ? y : w.graph().clip(y, relu, 0, 6);
}

Value kerasMobileNetV2(ModuleWalker& w, Value x) {
    GraphBuilder& g = w.graph();
    x = kerasStage(w, x, "Conv1", "bn_Conv1", "Conv1_relu");
    for (int id = 0;; ++id) {
        const std::string p = id == 0 ? "expanded_conv_" : "block_" + std::to_string(id) + "_";
        if (!w.has(p + "depthwise"))
            break;
        const Value in = x;
        if (w.has(p + "expand"))
            x = kerasStage(w, x, p + "expand", p + "expand_BN", p + "expand_relu");
        const bool strideOne = (*w.get<nn::Conv2dImpl>(p + "depthwise").options.stride())[0] == 1;
        x = kerasStage(w, x, p + "depthwise", p + "depthwise_BN", p + "depthwise_relu");
        x = kerasStage(w, x, p + "project", p + "project_BN", "");
        if (strideOne && in.shape == x.shape)
            x = g.add({in, x}, p + "add");
    }
    x = kerasStage(w, x, "Conv_1", "Conv_1_bn", "out_relu");
    if (w.config().head == Head::Flatten) {
        x = g.flatten(x, "flatten", true);
        w.dropout("dropout");
    } else {
        x = g.globalPool(x, "global_average_pooling2d", false, false);
    }
    return w.dense(x, "predictions");
}

}  // namespace

Value exportClassifier(GraphBuilder& graph, ClassifierImpl& model, const Value& input) {
    torch::NoGradGuard noGrad;
    if (auto* keras = dynamic_cast<KerasClassifierImpl*>(&model)) {
        // The backbone as its Keras graph, then the head.
        const KerasOutputs features =
            exportKerasGraph(graph, *keras->backbone(), input, /*logits=*/false);
        const auto& head = keras->head();
        return graph.dense(features.values.front(), keras->plan().head, head->weight, head->bias);
    }
    ModuleWalker walker(graph, model);
    const ModelConfig& c = model.config();
    Value logits;
    switch (c.architecture) {
        case Architecture::SmallConvNet:
            logits = smallConvNet(walker, input);
            break;
        case Architecture::Vgg16:
            logits = vgg16(walker, input);
            break;
        case Architecture::ResNet18:
            logits = resNet18(walker, input);
            break;
        case Architecture::MobileNetV2:
            logits = c.flavour == Flavour::Keras ? kerasMobileNetV2(walker, input)
                                                 : mobileNetV2(walker, input);
            break;
        default:
            throw Error(graph.subject(), std::string("architecture '") +
                                             architectureName(c.architecture) +
                                             "' has no ONNX export");
    }
    walker.checkAllUsed();
    if (logits.shape != std::vector<std::int64_t>{c.classCount})
        throw Error(graph.subject(), "the exported graph gives " +
                                         std::to_string(logits.shape.size()) +
                                         "-dimensional outputs, not one logit per class");
    return logits;
}

}  // namespace convscope::onnxgraph
