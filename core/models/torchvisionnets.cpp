// ResNet-18 and MobileNetV2 with torchvision's module names, so that torchvision state
// dicts map onto them by name.
#include "models/architectures.h"

#include <torch/torch.h>

namespace convscope {

namespace {

namespace nn = torch::nn;

nn::Conv2d conv(std::int64_t in, std::int64_t out, std::int64_t k, std::int64_t stride = 1,
                std::int64_t groups = 1) {
    return nn::Conv2d(nn::Conv2dOptions(in, out, k)
                          .stride(stride)
                          .padding((k - 1) / 2)
                          .groups(groups)
                          .bias(false));
}

/// Spatial side of `features`' output for a square input.
std::int64_t outputSide(nn::Module& features, int inputSize,
                        const std::function<torch::Tensor(torch::Tensor)>& run) {
    torch::NoGradGuard noGrad;
    const bool wasTraining = features.is_training();
    features.eval();
    const auto side = run(torch::zeros({1, 3, inputSize, inputSize})).size(2);
    features.train(wasTraining);
    return side;
}

/// torchvision's heads: global average pooling ("avgpool", also the original head) or, for
/// the flatten head, the feature maps flattened in NCHW order ("flatten").
torch::Tensor poolOrFlatten(const torch::Tensor& features, Head head, const LayerTap* tap) {
    const bool pool = head != Head::Flatten;
    torch::Tensor x = pool ? features.mean({2, 3}) : features.flatten(1);
    if (tap)
        (*tap)(pool ? "avgpool" : "flatten", x);
    return x;
}

class BasicBlockImpl : public nn::Module {
public:
    BasicBlockImpl(std::int64_t in, std::int64_t out, std::int64_t stride)
        : conv1(register_module("conv1", conv(in, out, 3, stride))),
          bn1(register_module("bn1", nn::BatchNorm2d(out))),
          conv2(register_module("conv2", conv(out, out, 3))),
          bn2(register_module("bn2", nn::BatchNorm2d(out))) {
        if (stride != 1 || in != out)
            downsample = register_module(
                "downsample", nn::Sequential(conv(in, out, 1, stride), nn::BatchNorm2d(out)));
    }

    torch::Tensor forward(torch::Tensor x) {
        torch::Tensor y = torch::relu(bn1->forward(conv1->forward(x)));
        y = bn2->forward(conv2->forward(y));
        return torch::relu(y + (downsample ? downsample->forward(x) : x));
    }

    nn::Conv2d conv1;
    nn::BatchNorm2d bn1;
    nn::Conv2d conv2;
    nn::BatchNorm2d bn2;
    nn::Sequential downsample{nullptr};
};
TORCH_MODULE(BasicBlock);

class ResNet18Impl : public ClassifierImpl {
public:
    explicit ResNet18Impl(const ModelConfig& c) : ClassifierImpl(c) {
        m_conv1 = register_module(
            "conv1", nn::Conv2d(nn::Conv2dOptions(3, 64, 7).stride(2).padding(3).bias(false)));
        m_bn1 = register_module("bn1", nn::BatchNorm2d(64));
        const std::int64_t widths[4] = {64, 128, 256, 512};
        std::int64_t in = 64;
        for (int i = 0; i < 4; ++i) {
            const std::int64_t stride = i == 0 ? 1 : 2;
            m_layers.push_back(
                register_module("layer" + std::to_string(i + 1),
                                nn::Sequential(BasicBlock(in, widths[i], stride),
                                               BasicBlock(widths[i], widths[i], 1))));
            in = widths[i];
        }
        std::int64_t fcIn = 512;
        if (c.head == Head::Flatten) {
            const auto side = outputSide(*this, c.inputSize,
                                         [this](torch::Tensor x) { return trunk(x, nullptr); });
            fcIn *= side * side;
        }
        m_fc = register_module("fc", nn::Linear(fcIn, c.classCount));
    }

    torch::Tensor forward(torch::Tensor x, const LayerTap* tap) override {
        x = trunk(x, tap);
        x = poolOrFlatten(x, config().head, tap);
        x = m_fc->forward(x);
        tapIf(tap, "fc", x);
        return x;
    }

private:
    torch::Tensor trunk(torch::Tensor x, const LayerTap* tap) {
        x = m_conv1->forward(x);
        tapIf(tap, "conv1", x);
        x = torch::relu(m_bn1->forward(x));
        tapIf(tap, "bn1", x);
        x = torch::max_pool2d(x, 3, 2, 1);
        tapIf(tap, "maxpool", x);
        for (std::size_t i = 0; i < m_layers.size(); ++i) {
            x = m_layers[i]->forward(x);
            tapIf(tap, "layer" + std::to_string(i + 1), x);
        }
        return x;
    }

    nn::Conv2d m_conv1{nullptr};
    nn::BatchNorm2d m_bn1{nullptr};
    std::vector<nn::Sequential> m_layers;
    nn::Linear m_fc{nullptr};
};

/// A Sequential that can itself sit inside a Sequential (its forward is not a template).
class StageImpl : public nn::SequentialImpl {
public:
    using nn::SequentialImpl::SequentialImpl;
    torch::Tensor forward(torch::Tensor x) { return nn::SequentialImpl::forward(x); }
};
TORCH_MODULE(Stage);

Stage convBnRelu6(std::int64_t in, std::int64_t out, std::int64_t k, std::int64_t stride = 1,
                  std::int64_t groups = 1) {
    return Stage(conv(in, out, k, stride, groups), nn::BatchNorm2d(out), nn::ReLU6());
}

class InvertedResidualImpl : public nn::Module {
public:
    InvertedResidualImpl(std::int64_t in, std::int64_t out, std::int64_t stride,
                         std::int64_t expand)
        : m_residual(stride == 1 && in == out) {
        const std::int64_t hidden = in * expand;
        Stage layers;
        if (expand != 1)
            layers->push_back(convBnRelu6(in, hidden, 1));
        layers->push_back(convBnRelu6(hidden, hidden, 3, stride, hidden));
        layers->push_back(conv(hidden, out, 1));
        layers->push_back(nn::BatchNorm2d(out));
        m_conv = register_module("conv", layers);
    }

    torch::Tensor forward(torch::Tensor x) {
        return m_residual ? x + m_conv->forward(x) : m_conv->forward(x);
    }

private:
    bool m_residual;
    Stage m_conv{nullptr};
};
TORCH_MODULE(InvertedResidual);

class MobileNetV2Impl : public ClassifierImpl {
public:
    explicit MobileNetV2Impl(const ModelConfig& c) : ClassifierImpl(c) {
        // (expansion t, channels c, repeats n, stride s), as in Sandler et al. 2018
        const std::int64_t settings[7][4] = {{1, 16, 1, 1}, {6, 24, 2, 2}, {6, 32, 3, 2},
                                             {6, 64, 4, 2}, {6, 96, 3, 1}, {6, 160, 3, 2},
                                             {6, 320, 1, 1}};
        nn::Sequential features;
        features->push_back(convBnRelu6(3, 32, 3, 2));
        std::int64_t in = 32;
        for (const auto& s : settings) {
            for (std::int64_t i = 0; i < s[2]; ++i) {
                features->push_back(InvertedResidual(in, s[1], i == 0 ? s[3] : 1, s[0]));
                in = s[1];
            }
        }
        features->push_back(convBnRelu6(in, 1280, 1));
        m_features = register_module("features", features);
        std::int64_t classifierIn = 1280;
        if (c.head == Head::Flatten) {
            const auto side = outputSide(
                *this, c.inputSize, [this](torch::Tensor x) { return m_features->forward(x); });
            classifierIn *= side * side;
        }
        m_classifier = register_module(
            "classifier", nn::Sequential(nn::Dropout(0.2), nn::Linear(classifierIn, c.classCount)));
    }

    torch::Tensor forward(torch::Tensor x, const LayerTap* tap) override {
        std::size_t i = 0;
        for (auto& stage : *m_features) {
            x = stage.forward(x);
            tapIf(tap, "features." + std::to_string(i++), x);
        }
        x = poolOrFlatten(x, config().head, tap);
        x = m_classifier->forward(x);
        tapIf(tap, "classifier", x);
        return x;
    }

private:
    nn::Sequential m_features{nullptr};
    nn::Sequential m_classifier{nullptr};
};

}  // namespace

Classifier makeResNet18(const ModelConfig& config) {
    return std::make_shared<ResNet18Impl>(config);
}
Classifier makeMobileNetV2(const ModelConfig& config) {
    return std::make_shared<MobileNetV2Impl>(config);
}

}  // namespace convscope
