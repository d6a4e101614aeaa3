// Keras graphs (models/kerasgraph.h) as ONNX graphs, layer call by layer call, with the
// arithmetic models/keraslayers.cpp gives each layer: TensorFlow's 'same' padding (the odd
// cell after), 'same' average pooling over the cells inside the input, Flatten and Dense
// channels last, Keras's relu(x, negative_slope, max_value, threshold).
#include "io/onnxgraph.h"

#include "error.h"
#include "models/kerasgraph.h"

#include <torch/torch.h>

namespace convscope::onnxgraph {

namespace {

namespace nn = torch::nn;

/// Keras's axis (channels last, counting the batch) as a channels-first axis without it.
std::int64_t channelsFirstAxis(int kerasAxis, std::size_t rankWithoutBatch) {
    const auto rank = std::int64_t(rankWithoutBatch) + 1;
    std::int64_t a = kerasAxis < 0 ? kerasAxis + rank : kerasAxis;
    if (a < 1 || a >= rank)
        return -1;
    if (rank == 4) {
        const std::int64_t map[4] = {-1, 1, 2, 0};
        return map[a];
    }
    return a - 1;
}

class KerasExporter {
public:
    explicit KerasExporter(GraphBuilder& graph) : g(graph) {}

    Value call(const KerasLayer& l, nn::Module* weights, const std::vector<Value>& in) {
        const Value& x = in[0];
        const std::string& name = l.name;
        // A fused activation comes last and takes the layer's name.
        const bool fused = l.activation != KerasActivation::Linear;
        const std::string inner = fused ? name + "/linear" : name;
        switch (l.type) {
            case KerasLayerType::Input:
                return x;
            case KerasLayerType::Conv2D:
            case KerasLayerType::DepthwiseConv2D: {
                auto& conv = module<nn::Conv2dImpl>(l, weights);
                return activate(g.conv(x, inner, conv.weight, conv.bias, l.strides, l.dilation,
                                       conv.options.groups(), pads(l, x, false)),
                                l.activation, name);
            }
            case KerasLayerType::SeparableConv2D: {
                auto& depthwise = child(l, weights, "depthwise");
                auto& pointwise = child(l, weights, "pointwise");
                const Value d = g.conv(x, name + "/depthwise", depthwise.weight, {}, l.strides,
                                       l.dilation, x.shape[0], pads(l, x, false));
                return activate(g.conv(d, inner, pointwise.weight, pointwise.bias, {1, 1}, {1, 1},
                                       1, {0, 0, 0, 0}),
                                l.activation, name);
            }
            case KerasLayerType::MaxPooling2D:
                return g.maxPool(x, name, l.kernel, l.strides, pads(l, x, true));
            case KerasLayerType::AveragePooling2D:
                return g.averagePool(x, name, l.kernel, l.strides, pads(l, x, true), false);
            case KerasLayerType::GlobalAveragePooling2D:
            case KerasLayerType::GlobalMaxPooling2D:
                return g.globalPool(x, name, l.type == KerasLayerType::GlobalMaxPooling2D,
                                    l.keepDims);
            case KerasLayerType::Dense: {
                auto& dense = module<nn::LinearImpl>(l, weights);
                return activate(g.dense(x, inner, dense.weight, dense.bias), l.activation, name);
            }
            case KerasLayerType::Flatten:
                return g.flatten(x, name, true);
            case KerasLayerType::Dropout:
                return x;
            case KerasLayerType::BatchNormalization: {
                auto& bn = module<nn::BatchNorm2dImpl>(l, weights);
                return g.batchNorm(x, name, bn.weight, bn.bias, bn.running_mean, bn.running_var,
                                   l.epsilon);
            }
            case KerasLayerType::Activation:
                return activate(x, l.activation, name);
            case KerasLayerType::ReLU:
                return relu(x, l, name);
            case KerasLayerType::LeakyReLU:
                return g.leakyRelu(x, name, l.negativeSlope);
            case KerasLayerType::Softmax:
                return g.softmax(x, name, axis(l, x));
            case KerasLayerType::Add:
                return g.add(in, name);
            case KerasLayerType::Concatenate:
                return g.concat(in, name, axis(l, x));
            case KerasLayerType::ZeroPadding2D: {
                const auto& p = l.zeroPadding;  // top, bottom, left, right
                return g.zeroPad(x, name, {p[0], p[2], p[1], p[3]});
            }
            case KerasLayerType::Rescaling:
                return g.affine(x, name, l.rescale, l.offset);
        }
        g.fail(name, "(" + l.className + ") has no ONNX export");
    }

private:
    template <class T>
    T& module(const KerasLayer& l, nn::Module* weights) {
        auto* typed = dynamic_cast<T*>(weights);
        if (!typed)
            g.fail(l.name, "(" + l.className + ") holds no weights of the expected kind");
        return *typed;
    }

    nn::Conv2dImpl& child(const KerasLayer& l, nn::Module* weights, const std::string& name) {
        if (weights)
            for (const auto& item : weights->named_children())
                if (item.key() == name)
                    return module<nn::Conv2dImpl>(l, item.value().get());
        g.fail(l.name, "(" + l.className + ") has no " + name + " convolution");
    }

    std::int64_t axis(const KerasLayer& l, const Value& x) {
        const std::int64_t a = channelsFirstAxis(l.axis, x.shape.size());
        if (a < 0)
            g.fail(l.name, "(" + l.className + ") works along axis " + std::to_string(l.axis) +
                               ", which its input lacks");
        return a;
    }

    /// TensorFlow's paddings for the layer at this input: none for 'valid'.
    Pads pads(const KerasLayer& l, const Value& x, bool pooling) {
        if (l.padding == KerasPadding::Valid || x.shape.size() != 3)
            return {0, 0, 0, 0};
        const Pair h =
            samePadding(x.shape[1], l.kernel[0], l.strides[0], pooling ? 1 : l.dilation[0]);
        const Pair w =
            samePadding(x.shape[2], l.kernel[1], l.strides[1], pooling ? 1 : l.dilation[1]);
        return {h[0], w[0], h[1], w[1]};
    }

    Value activate(const Value& x, KerasActivation a, const std::string& name) {
        switch (a) {
            case KerasActivation::Linear:
                return x;
            case KerasActivation::Relu:
                return g.unary("Relu", x, name);
            case KerasActivation::Relu6:
                return g.clip(x, name, 0, 6);
            case KerasActivation::Sigmoid:
                return g.unary("Sigmoid", x, name);
            case KerasActivation::Tanh:
                return g.unary("Tanh", x, name);
            case KerasActivation::Softmax:
                return g.softmax(x, name, 0);  // Keras's last axis: channels
            case KerasActivation::Elu:
                return g.elu(x, name);
            case KerasActivation::Selu:
                return g.unary("Selu", x, name);  // ONNX's default alpha and gamma are torch's
            case KerasActivation::Swish:
                return g.swish(x, name);
            case KerasActivation::HardSigmoid:
                return g.hardSigmoid(x, name, 1.0 / 6.0, 0.5);
            case KerasActivation::HardSigmoidLegacy:
                return g.hardSigmoid(x, name, 0.2, 0.5);
            case KerasActivation::HardSwish:
                return g.unary("HardSwish", x, name);
            case KerasActivation::Gelu:
                return g.gelu(x, name);
            case KerasActivation::Softplus:
                return g.unary("Softplus", x, name);
            case KerasActivation::Softsign:
                return g.unary("Softsign", x, name);
            case KerasActivation::Exponential:
                return g.unary("Exp", x, name);
        }
        g.fail(name, "has an activation the ONNX export does not know");
    }

    /// Keras's relu(x, negative_slope, max_value, threshold), step by step as Keras (and
    /// models/keraslayers.cpp) computes it.
    Value relu(const Value& x, const KerasLayer& l, const std::string& name) {
        const double slope = l.negativeSlope, threshold = l.threshold;
        if (slope != 0 && !l.maxValue && threshold == 0)
            return g.leakyRelu(x, name, slope);
        const bool last = slope == 0;
        bool clip = l.maxValue.has_value();
        const std::string positive = last && !clip ? name : name + "/positive";
        Value y;
        if (threshold != 0) {
            y = g.thresholded(x, positive, threshold);
        } else if (l.maxValue && *l.maxValue == 6) {
            y = g.clip(x, last ? name : positive, 0, 6);
            clip = false;
        } else {
            y = g.unary("Relu", x, positive);
        }
        if (clip)
            y = g.clip(y, last ? name : name + "/clipped", 0, *l.maxValue);
        if (last)
            return y;
        const Value negative =
            g.unary("Relu", g.affine(x, name + "/below", -1, threshold), name + "/negative");
        return g.sub(y, g.scale(negative, name + "/leak", slope), name);
    }

    GraphBuilder& g;
};

/// Whether the output of `layer` has been through a softmax (its own or a fused one).
bool endsWithSoftmax(const KerasLayer& layer) {
    switch (layer.type) {
        case KerasLayerType::Softmax:
            return true;
        case KerasLayerType::Dense:
        case KerasLayerType::Activation:
        case KerasLayerType::Conv2D:
        case KerasLayerType::DepthwiseConv2D:
        case KerasLayerType::SeparableConv2D:
            return layer.activation == KerasActivation::Softmax;
        default:
            return false;
    }
}

std::string shapeText(const std::vector<std::int64_t>& shape) {
    std::string text = "(";
    for (std::size_t i = 0; i < shape.size(); ++i)
        text += (i ? ", " : "") + std::to_string(shape[i]);
    return text + ")";
}

}  // namespace

KerasOutputs exportKerasGraph(GraphBuilder& graph, const KerasGraphImpl& model, const Value& input,
                              bool logits) {
    torch::NoGradGuard noGrad;
    const KerasGraphImpl::Topology t = model.topology();
    if (t.inputs.size() != 1)
        throw Error(graph.subject(), "has " + std::to_string(t.inputs.size()) +
                                         " inputs; the ONNX export takes models with one");
    // The one output's softmax is left out for logits, where nothing else reads its layer.
    std::size_t unsoftmaxed = t.calls.size();
    if (logits && t.outputs.size() == 1 && endsWithSoftmax(*t.calls[t.outputs[0]].layer)) {
        unsoftmaxed = t.outputs[0];
        for (const KerasGraphImpl::Call& c : t.calls)
            for (std::size_t k : c.inputs)
                if (k == unsoftmaxed)
                    unsoftmaxed = t.calls.size();
    }
    std::vector<Value> values(t.calls.size());
    KerasExporter exporter(graph);
    for (std::size_t i = 0; i < t.calls.size(); ++i) {
        const KerasGraphImpl::Call& c = t.calls[i];
        if (i == t.inputs[0]) {
            if (input.shape != c.shape)
                throw Error(graph.subject(), "input '" + c.layer->name + "' is " +
                                                 shapeText(c.shape) + ", not " +
                                                 shapeText(input.shape));
            values[i] = input;
            continue;
        }
        if (c.layer->type == KerasLayerType::Input)
            throw Error(graph.subject(), "input '" + c.layer->name + "' is not the model's input");
        std::vector<Value> in;
        for (std::size_t k : c.inputs)
            in.push_back(values[k]);
        if (i == unsoftmaxed) {
            KerasLayer linear = *c.layer;
            linear.activation = KerasActivation::Linear;
            values[i] = linear.type == KerasLayerType::Softmax
                            ? in[0]
                            : exporter.call(linear, c.weights, in);
        } else {
            values[i] = exporter.call(*c.layer, c.weights, in);
        }
        if (values[i].shape != c.shape)
            graph.fail(c.layer->name, "comes out as " + shapeText(values[i].shape) +
                                          " in ONNX but " + shapeText(c.shape) +
                                          " in ConvScope (a ConvScope bug)");
    }
    KerasOutputs outputs;
    for (std::size_t o : t.outputs) {
        outputs.values.push_back(values[o]);
        outputs.softmaxed.push_back(o != unsoftmaxed && endsWithSoftmax(*t.calls[o].layer));
    }
    return outputs;
}

}  // namespace convscope::onnxgraph
