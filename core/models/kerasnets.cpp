// The two architectures named the Keras way: the Keras blog's small convnet and VGG16.
#include "models/architectures.h"
#include "models/convpool.h"
#include "models/relumaxpool.h"
#include "models/winogradpool.h"

#include <ATen/autocast_mode.h>

#include <torch/torch.h>

namespace convscope {

namespace {

namespace nn = torch::nn;

/// Keras flattens NHWC; doing the same keeps dense kernels interchangeable with Keras files.
torch::Tensor flattenLikeKeras(const torch::Tensor& x) {
    return x.permute({0, 2, 3, 1}).flatten(1);
}

/// The blog's flatten head up to the classifier: Dense with ReLU, Dropout, each tapped.
torch::Tensor denseDropout(const torch::Tensor& flat, nn::Linear& dense, nn::Dropout& dropout,
                           const char* denseName, const LayerTap* tap) {
    torch::Tensor x = torch::relu(dense->forward(flat));
    if (tap)
        (*tap)(denseName, x);
    x = dropout->forward(x);
    if (tap)
        (*tap)("dropout", x);
    return x;
}

/// What the head sees: the Keras-order flattened maps ("flatten") or their global average
/// ("global_average_pooling2d").
torch::Tensor flattenOrPool(const torch::Tensor& maps, Head head, const LayerTap* tap) {
    const bool pool = head == Head::GlobalAveragePool;
    torch::Tensor x = pool ? maps.mean({2, 3}) : flattenLikeKeras(maps);
    if (tap)
        (*tap)(pool ? "global_average_pooling2d" : "flatten", x);
    return x;
}

/// relu(max_pool(x)) equals max_pool(relu(x)) (ReLU is monotonic) and runs the ReLU, forward
/// and backward, on a quarter of the values: about a sixth of a training step of the blog
/// net at 150x150 (measured with torch.profiler). reluMaxPool2 fuses the two on the CPU.
/// Used when no layer tap needs the conv output.
torch::Tensor reluAfterPool(const torch::Tensor& x) {
    return reluMaxPool2(x);
}

/// Whether a 3x3 "valid" convolution's bias should go into reluMaxPool2 instead: float32 CPU
/// tensors in the channels_last layout that training uses, outside autocast (in bf16,
/// oneDNN's weight-gradient kernel sums the bias gradient at no extra cost).
bool biasGoesIntoPool(const torch::Tensor& x, const nn::Conv2d& conv) {
    return conv->options.bias() && x.device().is_cpu() && x.scalar_type() == torch::kFloat32 &&
           x.dim() == 4 && x.is_contiguous(torch::MemoryFormat::ChannelsLast) &&
           !at::autocast::is_autocast_enabled(at::kCPU);
}

class SmallConvNetImpl : public ClassifierImpl {
public:
    explicit SmallConvNetImpl(const ModelConfig& c) : ClassifierImpl(c) {
        m_convs = {register_module("conv2d", nn::Conv2d(nn::Conv2dOptions(3, 32, 3))),
                   register_module("conv2d_1", nn::Conv2d(nn::Conv2dOptions(32, 32, 3))),
                   register_module("conv2d_2", nn::Conv2d(nn::Conv2dOptions(32, 64, 3)))};
        int side = c.inputSize;
        for (int i = 0; i < 3; ++i)
            side = (side - 2) / 2;
        TORCH_CHECK(side >= 1, "input too small for three conv+pool stages");
        // The blog net was published with the flatten head, so that is its original head.
        if (c.head != Head::GlobalAveragePool) {
            m_hidden = register_module("dense", nn::Linear(std::int64_t(side) * side * 64, 64));
            m_dropout = register_module("dropout", nn::Dropout(c.dropout));
            m_out = register_module("dense_1", nn::Linear(64, c.classCount));
        } else {
            m_out = register_module("dense", nn::Linear(64, c.classCount));
        }
    }

    torch::Tensor forwardFeatures(torch::Tensor x, const LayerTap* tap) override {
        static const char* convNames[] = {"conv2d", "conv2d_1", "conv2d_2"};
        static const char* poolNames[] = {"max_pooling2d", "max_pooling2d_1", "max_pooling2d_2"};
        for (int i = 0; i < 3; ++i) {
            nn::Conv2d& conv = m_convs[std::size_t(i)];
            // The convolutions are 3x3, stride 1, no padding: conv2d's defaults.
            if (!tap && i == 0 && convReluMaxPool2IsFused(x, conv->weight, conv->bias)) {
                // On the images, in one pass each way; in float32 under bf16 autocast too,
                // where it is both faster and more precise than oneDNN's bf16 convolution.
                x = convReluMaxPool2(x, conv->weight, conv->bias);
                continue;
            }
            if (!tap && biasGoesIntoPool(x, conv)) {
                // Winograd's F(2x2, 3x3), each tile a pooling window, for 32, 64, ...
                // channels with AVX-512; otherwise oneDNN's convolution, then the pool.
                x = winogradConvReluMaxPool2(x, conv->weight, conv->bias);
                continue;
            }
            x = conv->forward(x);
            if (tap) {
                tapPreActivation(tap, convNames[i], x);
                x = torch::relu(x);
                (*tap)(convNames[i], x);
                x = torch::max_pool2d(x, 2);
            } else {
                x = reluAfterPool(x);
            }
            tapIf(tap, poolNames[i], x);
        }
        return flattenOrPool(x, config().head, tap);
    }

    torch::Tensor forwardHead(torch::Tensor x, const LayerTap* tap) override {
        if (config().head == Head::GlobalAveragePool) {
            x = m_out->forward(x);
            tapIf(tap, "dense", x);
            return x;
        }
        x = denseDropout(x, m_hidden, m_dropout, "dense", tap);
        x = m_out->forward(x);
        tapIf(tap, "dense_1", x);
        return x;
    }

private:
    std::vector<nn::Conv2d> m_convs;
    nn::Linear m_hidden{nullptr};
    nn::Dropout m_dropout{nullptr};
    nn::Linear m_out{nullptr};
};

class Vgg16Impl : public ClassifierImpl {
public:
    /// The spatial side the original head's fc1 expects (224 / 32).
    static constexpr std::int64_t kOriginalSide = 7;

    explicit Vgg16Impl(const ModelConfig& c) : ClassifierImpl(c) {
        const int widths[5] = {64, 128, 256, 512, 512};
        const int depths[5] = {2, 2, 3, 3, 3};
        std::int64_t in = 3;
        for (int b = 0; b < 5; ++b) {
            for (int i = 0; i < depths[b]; ++i) {
                const std::string name =
                    "block" + std::to_string(b + 1) + "_conv" + std::to_string(i + 1);
                m_convs.push_back(register_module(
                    name, nn::Conv2d(nn::Conv2dOptions(in, widths[b], 3).padding(1))));
                m_convNames.push_back(name);
                m_blockOf.push_back(b);
                in = widths[b];
            }
        }
        const int side = c.inputSize / 32;
        TORCH_CHECK(side >= 1, "VGG16 needs inputs of at least 32 pixels");
        if (c.head == Head::Flatten) {
            m_fc1 = register_module("fc1", nn::Linear(std::int64_t(side) * side * 512, 256));
            m_dropout = register_module("dropout", nn::Dropout(c.dropout));
            m_out = register_module("predictions", nn::Linear(256, c.classCount));
        } else if (c.head == Head::Original) {
            m_fc1 = register_module("fc1", nn::Linear(kOriginalSide * kOriginalSide * 512, 4096));
            m_dropout = register_module("dropout", nn::Dropout(c.dropout));
            m_fc2 = register_module("fc2", nn::Linear(4096, 4096));
            m_dropout2 = register_module("dropout_1", nn::Dropout(c.dropout));
            m_out = register_module("predictions", nn::Linear(4096, c.classCount));
        } else {
            m_out = register_module("predictions", nn::Linear(512, c.classCount));
        }
    }

    torch::Tensor forwardFeatures(torch::Tensor x, const LayerTap* tap) override {
        for (std::size_t i = 0; i < m_convs.size(); ++i) {
            x = m_convs[i]->forward(x);
            const bool lastOfBlock = i + 1 == m_convs.size() || m_blockOf[i + 1] != m_blockOf[i];
            if (tap || !lastOfBlock) {
                tapPreActivation(tap, m_convNames[i], x);
                x = torch::relu(x);
                tapIf(tap, m_convNames[i], x);
                if (lastOfBlock)
                    x = torch::max_pool2d(x, 2);
            } else {
                x = reluAfterPool(x);
            }
            if (lastOfBlock)
                tapIf(tap, "block" + std::to_string(m_blockOf[i] + 1) + "_pool", x);
        }
        // The original head: torchvision pools to 7x7 whatever the input (the identity at
        // 224, where Keras's VGG16 has no pooling); flattening stays Keras's.
        if (config().head == Head::Original &&
            (x.size(2) != kOriginalSide || x.size(3) != kOriginalSide))
            x = torch::adaptive_avg_pool2d(x, {kOriginalSide, kOriginalSide});
        return flattenOrPool(x, config().head, tap);
    }

    torch::Tensor forwardHead(torch::Tensor x, const LayerTap* tap) override {
        if (config().head != Head::GlobalAveragePool)
            x = denseDropout(x, m_fc1, m_dropout, "fc1", tap);
        if (config().head == Head::Original) {
            x = torch::relu(m_fc2->forward(x));
            tapIf(tap, "fc2", x);
            x = m_dropout2->forward(x);
            tapIf(tap, "dropout_1", x);
        }
        x = m_out->forward(x);
        tapIf(tap, "predictions", x);
        return x;
    }

private:
    std::vector<nn::Conv2d> m_convs;
    std::vector<std::string> m_convNames;
    std::vector<int> m_blockOf;
    nn::Linear m_fc1{nullptr};
    nn::Dropout m_dropout{nullptr};
    nn::Linear m_fc2{nullptr};
    nn::Dropout m_dropout2{nullptr};
    nn::Linear m_out{nullptr};
};

}  // namespace

Classifier makeSmallConvNet(const ModelConfig& config) {
    return std::make_shared<SmallConvNetImpl>(config);
}
Classifier makeVgg16(const ModelConfig& config) {
    return std::make_shared<Vgg16Impl>(config);
}

}  // namespace convscope
