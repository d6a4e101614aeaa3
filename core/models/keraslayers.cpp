// What each Keras layer computes, with TensorFlow's arithmetic where it differs from PyTorch's:
// 'same' padding splits an odd total with the extra row/column at the bottom/right, 'same'
// average pooling divides by the number of cells inside the input, Flatten and Dense see
// channels last.
#include "models/keraslayers.h"

#include "error.h"

#include <limits>

namespace convscope::keras {

namespace {

namespace nn = torch::nn;
using Pads = std::array<std::int64_t, 4>;  // left, right, top, bottom (torch's pad order)

[[noreturn]] void fail(const KerasLayer& l, const std::string& source, const std::string& what) {
    throw Error(source, "layer '" + l.name + "' (" + l.className + ") " + what);
}

/// Keras's axis (channels last, counting the batch) as the NCHW dimension.
std::int64_t torchDim(int kerasAxis, std::size_t rank) {
    const auto r = std::int64_t(rank);
    std::int64_t a = kerasAxis < 0 ? kerasAxis + r : kerasAxis;
    if (a < 0 || a >= r)
        return -1;
    if (r == 4) {
        const std::int64_t map[4] = {0, 2, 3, 1};
        a = map[a];
    }
    return a;
}

std::int64_t outputSide(std::int64_t in, std::int64_t kernel, std::int64_t stride,
                        std::int64_t dilation, KerasPadding padding) {
    if (in < 0)
        return -1;
    if (padding == KerasPadding::Same)
        return (in + stride - 1) / stride;
    const std::int64_t extent = (kernel - 1) * dilation + 1;
    return in < extent ? 0 : (in - extent) / stride + 1;
}

/// TensorFlow's SAME padding of one side: (before, after), the odd one after.
std::array<std::int64_t, 2> samePadding(std::int64_t in, std::int64_t kernel, std::int64_t stride,
                                        std::int64_t dilation) {
    const std::int64_t out = (in + stride - 1) / stride;
    const std::int64_t total =
        std::max<std::int64_t>((out - 1) * stride + (kernel - 1) * dilation + 1 - in, 0);
    return {total / 2, total - total / 2};
}

Pads padsOf(const KerasLayer& l, const torch::Tensor& x, bool pooling) {
    if (l.padding == KerasPadding::Valid)
        return {0, 0, 0, 0};
    const auto h = samePadding(x.size(2), l.kernel[0], l.strides[0], pooling ? 1 : l.dilation[0]);
    const auto w = samePadding(x.size(3), l.kernel[1], l.strides[1], pooling ? 1 : l.dilation[1]);
    return {w[0], w[1], h[0], h[1]};
}

bool symmetric(const Pads& p) {
    return p[0] == p[1] && p[2] == p[3];
}
bool none(const Pads& p) {
    return p[0] == 0 && p[1] == 0 && p[2] == 0 && p[3] == 0;
}

torch::Tensor convolve(torch::Tensor x, const torch::Tensor& weight, const torch::Tensor& bias,
                       const KerasLayer& l, std::int64_t groups) {
    const Pads p = padsOf(l, x, false);
    std::vector<std::int64_t> padding{0, 0};
    if (symmetric(p)) {
        padding = {p[2], p[0]};
    } else {
        x = torch::constant_pad_nd(x, {p[0], p[1], p[2], p[3]}, 0);
    }
    return torch::conv2d(x, weight, bias, {l.strides[0], l.strides[1]}, padding,
                         {l.dilation[0], l.dilation[1]}, groups);
}

torch::Tensor maxPool(torch::Tensor x, const KerasLayer& l) {
    const Pads p = padsOf(l, x, true);
    if (!none(p))
        x = torch::constant_pad_nd(x, {p[0], p[1], p[2], p[3]},
                                   -std::numeric_limits<double>::infinity());
    return torch::max_pool2d(x, {l.kernel[0], l.kernel[1]}, {l.strides[0], l.strides[1]});
}

torch::Tensor averagePool(torch::Tensor x, const KerasLayer& l) {
    const Pads p = padsOf(l, x, true);
    const std::vector<std::int64_t> kernel{l.kernel[0], l.kernel[1]};
    const std::vector<std::int64_t> strides{l.strides[0], l.strides[1]};
    if (symmetric(p) && 2 * p[2] <= l.kernel[0] && 2 * p[0] <= l.kernel[1])
        return torch::avg_pool2d(x, kernel, strides, {p[2], p[0]}, false,
                                 /*count_include_pad=*/false);
    // Uneven padding: the window's sum over the cells inside the input, divided by their count.
    const std::vector<std::int64_t> pad{p[0], p[1], p[2], p[3]};
    const torch::Tensor sums =
        torch::avg_pool2d(torch::constant_pad_nd(x, pad, 0), kernel, strides);
    const torch::Tensor ones = torch::ones({1, 1, x.size(2), x.size(3)}, x.options());
    const torch::Tensor counts =
        torch::avg_pool2d(torch::constant_pad_nd(ones, pad, 0), kernel, strides);
    return sums / counts;
}

/// Keras's relu(x, negative_slope, max_value, threshold), step by step as Keras computes it.
torch::Tensor kerasRelu(const torch::Tensor& x, const KerasLayer& l) {
    const double slope = l.negativeSlope, threshold = l.threshold;
    if (slope != 0 && !l.maxValue && threshold == 0)
        return torch::leaky_relu(x, slope);
    torch::Tensor negative;
    if (slope != 0)
        negative = torch::relu(threshold - x);
    torch::Tensor y;
    bool clip = l.maxValue.has_value();
    if (threshold != 0) {
        y = x * (x > threshold).to(x.scalar_type());
    } else if (l.maxValue && *l.maxValue == 6) {
        y = torch::hardtanh(x, 0.0, 6.0);
        clip = false;
    } else {
        y = torch::relu(x);
    }
    if (clip)
        y = torch::clamp(y, 0.0, *l.maxValue);
    if (slope != 0)
        y = y - slope * negative;
    return y;
}

torch::Tensor activate(const torch::Tensor& x, KerasActivation a) {
    switch (a) {
        case KerasActivation::Linear:
            return x;
        case KerasActivation::Relu:
            return torch::relu(x);
        case KerasActivation::Relu6:
            return torch::hardtanh(x, 0.0, 6.0);
        case KerasActivation::Sigmoid:
            return torch::sigmoid(x);
        case KerasActivation::Tanh:
            return torch::tanh(x);
        case KerasActivation::Softmax:
            return torch::softmax(x, 1);  // Keras's last axis: channels
        case KerasActivation::Elu:
            return torch::elu(x);
        case KerasActivation::Selu:
            return torch::selu(x);
        case KerasActivation::Swish:
            return torch::silu(x);
        case KerasActivation::HardSigmoid:
            return torch::hardsigmoid(x);
        case KerasActivation::HardSigmoidLegacy:
            return torch::clamp(0.2 * x + 0.5, 0.0, 1.0);
        case KerasActivation::HardSwish:
            return torch::hardswish(x);
        case KerasActivation::Gelu:
            return torch::gelu(x);
        case KerasActivation::Softplus:
            return torch::softplus(x);
        case KerasActivation::Softsign:
            return x / (1 + torch::abs(x));
        case KerasActivation::Exponential:
            return torch::exp(x);
    }
    return x;
}

std::int64_t product(const Shape& s) {
    std::int64_t n = 1;
    for (std::int64_t d : s) {
        if (d < 0)
            return -1;
        n *= d;
    }
    return n;
}

Shape mergedShape(const KerasLayer& l, const std::vector<Shape>& in, const std::string& source) {
    const bool concat = l.type == KerasLayerType::Concatenate;
    const std::int64_t dim = concat ? torchDim(l.axis, in[0].size() + 1) : -1;
    if (concat && dim < 1)
        fail(l, source,
             "concatenates along axis " + std::to_string(l.axis) +
                 ", which ConvScope cannot build (not a feature axis)");
    Shape out = in[0];
    for (std::size_t k = 1; k < in.size(); ++k) {
        bool fits = in[k].size() == out.size();
        for (std::size_t d = 0; fits && d < out.size(); ++d) {
            if (concat && std::int64_t(d) + 1 == dim)
                continue;
            fits = in[k][d] == out[d] || in[k][d] < 0 || out[d] < 0;
        }
        if (!fits)
            fail(l, source,
                 "cannot combine inputs of shapes " + shapeText(in[0]) + " and " +
                     shapeText(in[k]) + " (channels first)");
        if (concat) {
            auto& d = out[std::size_t(dim - 1)];
            d = d < 0 || in[k][std::size_t(dim - 1)] < 0 ? -1 : d + in[k][std::size_t(dim - 1)];
        }
    }
    return out;
}

}  // namespace

std::string shapeText(const Shape& shape) {
    std::string text = "(";
    for (std::size_t i = 0; i < shape.size(); ++i)
        text += (i ? ", " : "") + (shape[i] < 0 ? std::string("None") : std::to_string(shape[i]));
    return text + (shape.size() == 1 ? ",)" : ")");
}

SeparableConv2dImpl::SeparableConv2dImpl(std::int64_t in, std::int64_t multiplier, std::int64_t out,
                                         std::array<std::int64_t, 2> kernel, bool bias) {
    depthwise = register_module(
        "depthwise",
        nn::Conv2d(
            nn::Conv2dOptions(in, in * multiplier, {kernel[0], kernel[1]}).groups(in).bias(false)));
    pointwise = register_module("pointwise",
                                nn::Conv2d(nn::Conv2dOptions(in * multiplier, out, 1).bias(bias)));
}

Shape outputShape(const KerasLayer& l, const std::vector<Shape>& in, const std::string& source) {
    const bool merge = l.type == KerasLayerType::Add || l.type == KerasLayerType::Concatenate;
    if (l.type == KerasLayerType::Input) {
        if (l.inputShape.size() == 1)
            return l.inputShape;
        return {l.inputShape[2], l.inputShape[0], l.inputShape[1]};
    }
    if (in.empty() || (!merge && in.size() != 1))
        fail(l, source, "is called on " + std::to_string(in.size()) + " tensors");
    const Shape& x = in[0];
    const bool image = x.size() == 3;
    switch (l.type) {
        case KerasLayerType::Conv2D:
        case KerasLayerType::DepthwiseConv2D:
        case KerasLayerType::SeparableConv2D:
        case KerasLayerType::MaxPooling2D:
        case KerasLayerType::AveragePooling2D:
        case KerasLayerType::GlobalAveragePooling2D:
        case KerasLayerType::GlobalMaxPooling2D:
        case KerasLayerType::ZeroPadding2D:
            if (!image)
                fail(l, source, "needs an image input (None, H, W, C), not " + shapeText(x));
            break;
        default:
            break;
    }
    const bool conv = l.type == KerasLayerType::Conv2D ||
                      l.type == KerasLayerType::DepthwiseConv2D ||
                      l.type == KerasLayerType::SeparableConv2D;
    if (conv && x[0] < 1)
        fail(l, source, "needs a known number of input channels");
    switch (l.type) {
        case KerasLayerType::Input:
            break;
        case KerasLayerType::Conv2D:
        case KerasLayerType::DepthwiseConv2D:
        case KerasLayerType::SeparableConv2D:
        case KerasLayerType::MaxPooling2D:
        case KerasLayerType::AveragePooling2D: {
            const bool pool = !conv;
            const std::int64_t dh = pool ? 1 : l.dilation[0], dw = pool ? 1 : l.dilation[1];
            Shape out{x[0], outputSide(x[1], l.kernel[0], l.strides[0], dh, l.padding),
                      outputSide(x[2], l.kernel[1], l.strides[1], dw, l.padding)};
            if (out[1] == 0 || out[2] == 0)
                fail(l, source,
                     "gets an input of " + shapeText(x) + ", too small for its " +
                         std::to_string(l.kernel[0]) + "x" + std::to_string(l.kernel[1]) +
                         " window");
            if (l.type == KerasLayerType::Conv2D) {
                if (x[0] % l.groups != 0 || l.filters % l.groups != 0)
                    fail(l, source, "has groups that do not divide its channels");
                out[0] = l.filters;
            } else if (l.type == KerasLayerType::DepthwiseConv2D) {
                out[0] = x[0] * l.depthMultiplier;
            } else if (l.type == KerasLayerType::SeparableConv2D) {
                out[0] = l.filters;
            }
            return out;
        }
        case KerasLayerType::GlobalAveragePooling2D:
        case KerasLayerType::GlobalMaxPooling2D:
            return l.keepDims ? Shape{x[0], 1, 1} : Shape{x[0]};
        case KerasLayerType::Dense: {
            if (x[0] < 1)
                fail(l, source, "needs a known input size, not " + shapeText(x));
            Shape out = x;
            out[0] = l.filters;
            return out;
        }
        case KerasLayerType::Flatten:
            return {product(x)};
        case KerasLayerType::BatchNormalization:
            if (torchDim(l.axis, x.size() + 1) != 1)
                fail(l, source,
                     "normalises along axis " + std::to_string(l.axis) +
                         ", which ConvScope cannot build (only the channel axis)");
            if (x[0] < 1)
                fail(l, source, "needs a known number of channels");
            return x;
        case KerasLayerType::Softmax:
            if (torchDim(l.axis, x.size() + 1) < 1)
                fail(l, source, "has an axis outside its input");
            return x;
        case KerasLayerType::ZeroPadding2D: {
            const auto& p = l.zeroPadding;
            return {x[0], x[1] < 0 ? -1 : x[1] + p[0] + p[1], x[2] < 0 ? -1 : x[2] + p[2] + p[3]};
        }
        case KerasLayerType::Add:
        case KerasLayerType::Concatenate:
            return mergedShape(l, in, source);
        case KerasLayerType::Dropout:
        case KerasLayerType::Activation:
        case KerasLayerType::ReLU:
        case KerasLayerType::LeakyReLU:
        case KerasLayerType::Rescaling:
            return x;
    }
    return x;
}

std::shared_ptr<torch::nn::Module> makeWeights(const KerasLayer& l, const Shape& in) {
    const std::vector<std::int64_t> kernel{l.kernel[0], l.kernel[1]};
    switch (l.type) {
        case KerasLayerType::Conv2D:
            return nn::Conv2d(
                       nn::Conv2dOptions(in[0], l.filters, kernel).groups(l.groups).bias(l.useBias))
                .ptr();
        case KerasLayerType::DepthwiseConv2D:
            return nn::Conv2d(nn::Conv2dOptions(in[0], in[0] * l.depthMultiplier, kernel)
                                  .groups(in[0])
                                  .bias(l.useBias))
                .ptr();
        case KerasLayerType::SeparableConv2D:
            return std::make_shared<SeparableConv2dImpl>(in[0], l.depthMultiplier, l.filters,
                                                         l.kernel, l.useBias);
        case KerasLayerType::Dense:
            return nn::Linear(nn::LinearOptions(in[0], l.filters).bias(l.useBias)).ptr();
        case KerasLayerType::BatchNormalization: {
            auto bn = nn::BatchNorm2d(
                nn::BatchNormOptions(in[0]).eps(l.epsilon).momentum(1.0 - l.momentum));
            // Without scale (or center) Keras has no gamma (beta): they stay 1 (0).
            bn->weight.set_requires_grad(l.scale);
            bn->bias.set_requires_grad(l.center);
            return bn.ptr();
        }
        default:
            return nullptr;
    }
}

torch::Tensor runLayer(const KerasLayer& l, torch::nn::Module* weights,
                       const std::vector<torch::Tensor>& in, bool training) {
    const torch::Tensor& x = in[0];
    switch (l.type) {
        case KerasLayerType::Input:
            return x;
        case KerasLayerType::Conv2D:
        case KerasLayerType::DepthwiseConv2D: {
            auto* conv = static_cast<nn::Conv2dImpl*>(weights);
            return activate(convolve(x, conv->weight, conv->bias, l, conv->options.groups()),
                            l.activation);
        }
        case KerasLayerType::SeparableConv2D: {
            auto* sep = static_cast<SeparableConv2dImpl*>(weights);
            const torch::Tensor depthwise = convolve(x, sep->depthwise->weight, {}, l, x.size(1));
            return activate(torch::conv2d(depthwise, sep->pointwise->weight, sep->pointwise->bias),
                            l.activation);
        }
        case KerasLayerType::MaxPooling2D:
            return maxPool(x, l);
        case KerasLayerType::AveragePooling2D:
            return averagePool(x, l);
        case KerasLayerType::GlobalAveragePooling2D:
            return x.mean({2, 3}, l.keepDims);
        case KerasLayerType::GlobalMaxPooling2D:
            return x.amax({2, 3}, l.keepDims);
        case KerasLayerType::Dense: {
            auto* dense = static_cast<nn::LinearImpl*>(weights);
            if (x.dim() == 4)  // Keras applies Dense to the last (channel) axis
                return activate(torch::linear(x.permute({0, 2, 3, 1}), dense->weight, dense->bias)
                                    .permute({0, 3, 1, 2}),
                                l.activation);
            return activate(torch::linear(x, dense->weight, dense->bias), l.activation);
        }
        case KerasLayerType::Flatten:
            return x.dim() == 4 ? x.permute({0, 2, 3, 1}).flatten(1) : x.flatten(1);
        case KerasLayerType::Dropout:
            return torch::dropout(x, l.rate, training);
        case KerasLayerType::BatchNormalization: {
            auto* bn = static_cast<nn::BatchNorm2dImpl*>(weights);
            // A frozen layer's module is in evaluation mode while the network trains.
            return torch::batch_norm(x, bn->weight, bn->bias, bn->running_mean, bn->running_var,
                                     training && bn->is_training(),
                                     bn->options.momentum().value_or(1.0 - l.momentum), l.epsilon,
                                     at::globalContext().userEnabledCuDNN());
        }
        case KerasLayerType::Activation:
            return activate(x, l.activation);
        case KerasLayerType::ReLU:
            return kerasRelu(x, l);
        case KerasLayerType::LeakyReLU:
            return torch::leaky_relu(x, l.negativeSlope);
        case KerasLayerType::Softmax:
            return torch::softmax(x, torchDim(l.axis, std::size_t(x.dim())));
        case KerasLayerType::Add: {
            torch::Tensor sum = x;
            for (std::size_t k = 1; k < in.size(); ++k)
                sum = sum + in[k];
            return sum;
        }
        case KerasLayerType::Concatenate:
            return torch::cat(in, torchDim(l.axis, std::size_t(x.dim())));
        case KerasLayerType::ZeroPadding2D: {
            const auto& p = l.zeroPadding;
            return torch::constant_pad_nd(x, {p[2], p[3], p[0], p[1]}, 0);
        }
        case KerasLayerType::Rescaling:
            return x * l.rescale + l.offset;
    }
    return x;
}

std::vector<WeightSlot> weightSlots(const KerasLayer& l, torch::nn::Module& m) {
    std::vector<WeightSlot> slots;
    const auto add = [&](const char* name, std::vector<std::int64_t> shape, ArrayLayout layout,
                         const torch::Tensor& target) {
        slots.push_back({name, std::move(shape), layout, target});
    };
    const std::int64_t kh = l.kernel[0], kw = l.kernel[1];
    switch (l.type) {
        case KerasLayerType::Conv2D:
        case KerasLayerType::DepthwiseConv2D: {
            auto& conv = static_cast<nn::Conv2dImpl&>(m);
            const auto& o = conv.options;
            if (l.type == KerasLayerType::Conv2D)
                add("kernel", {kh, kw, o.in_channels() / o.groups(), o.out_channels()},
                    ArrayLayout::ConvKernel, conv.weight);
            else
                add("depthwise_kernel", {kh, kw, o.in_channels(), l.depthMultiplier},
                    ArrayLayout::DepthwiseKernel, conv.weight);
            if (conv.bias.defined())
                add("bias", {o.out_channels()}, ArrayLayout::AsIs, conv.bias);
            break;
        }
        case KerasLayerType::SeparableConv2D: {
            auto& sep = static_cast<SeparableConv2dImpl&>(m);
            const auto& d = sep.depthwise->options;
            const auto& p = sep.pointwise->options;
            add("depthwise_kernel", {kh, kw, d.in_channels(), l.depthMultiplier},
                ArrayLayout::DepthwiseKernel, sep.depthwise->weight);
            add("pointwise_kernel", {1, 1, p.in_channels(), p.out_channels()},
                ArrayLayout::ConvKernel, sep.pointwise->weight);
            if (sep.pointwise->bias.defined())
                add("bias", {p.out_channels()}, ArrayLayout::AsIs, sep.pointwise->bias);
            break;
        }
        case KerasLayerType::Dense: {
            auto& dense = static_cast<nn::LinearImpl&>(m);
            add("kernel", {dense.options.in_features(), dense.options.out_features()},
                ArrayLayout::DenseKernel, dense.weight);
            if (dense.bias.defined())
                add("bias", {dense.options.out_features()}, ArrayLayout::AsIs, dense.bias);
            break;
        }
        case KerasLayerType::BatchNormalization: {
            auto& bn = static_cast<nn::BatchNorm2dImpl&>(m);
            const std::int64_t c = bn.options.num_features();
            if (l.scale)
                add("gamma", {c}, ArrayLayout::AsIs, bn.weight);
            if (l.center)
                add("beta", {c}, ArrayLayout::AsIs, bn.bias);
            add("moving_mean", {c}, ArrayLayout::AsIs, bn.running_mean);
            add("moving_variance", {c}, ArrayLayout::AsIs, bn.running_var);
            break;
        }
        default:
            break;
    }
    return slots;
}

torch::Tensor toKerasLayout(const torch::Tensor& torch, const WeightSlot& slot) {
    switch (slot.layout) {
        case ArrayLayout::AsIs:
            return torch;
        case ArrayLayout::ConvKernel:
            return torch.permute({2, 3, 1, 0});
        case ArrayLayout::DepthwiseKernel:
            return torch.permute({2, 3, 0, 1}).reshape(slot.kerasShape);
        case ArrayLayout::DenseKernel:
            return torch.t();
    }
    return torch;
}

torch::Tensor toTorchLayout(const torch::Tensor& keras, const WeightSlot& slot) {
    switch (slot.layout) {
        case ArrayLayout::AsIs:
            return keras;
        case ArrayLayout::ConvKernel:
            return keras.permute({3, 2, 0, 1});
        case ArrayLayout::DepthwiseKernel:
            return keras.permute({2, 3, 0, 1}).reshape(slot.target.sizes());
        case ArrayLayout::DenseKernel:
            return keras.t();
    }
    return keras;
}

}  // namespace convscope::keras
