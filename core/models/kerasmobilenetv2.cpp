// MobileNetV2 as Keras Applications builds it (alpha 1.0), with Keras's layer names, so that
// Keras HDF5 files and TF.js layers models load by name and give Keras's numbers. It differs
// from torchvision's in ways that change the outputs: stride-2 convs are preceded by a
// ZeroPadding2D that pads only bottom and right for even sizes (Keras's correct_pad) and run
// 'valid'; batch norm uses epsilon 1e-3 and momentum 0.999 (torch's 0.001).
#include "models/architectures.h"

#include <torch/torch.h>

namespace convscope {

namespace {

namespace nn = torch::nn;

constexpr double kEpsilon = 1e-3;
constexpr double kMomentum = 1.0 - 0.999;  // Keras's moving-average momentum in torch's terms

/// Keras's correct_pad for a 3x3 stride-2 conv over `x` (NCHW): (left, right, top, bottom).
/// An even side is padded by 0 before and 1 after, an odd side by 1 on both sides.
torch::Tensor correctPad(const torch::Tensor& x) {
    const std::int64_t top = x.size(2) % 2, left = x.size(3) % 2;
    return torch::constant_pad_nd(x, {left, 1, top, 1});
}

/// Spatial side after Conv1 and the four stride-2 blocks: ceil(side / 2) five times.
std::int64_t featureSide(std::int64_t side) {
    for (int i = 0; i < 5; ++i)
        side = (side + 1) / 2;
    return side;
}

/// A conv (no bias) followed by batch norm and, optionally, ReLU6: one Keras "stage" whose three
/// layers keep their own names (conv, bn, relu).
struct ConvBn {
    nn::Conv2d conv{nullptr};
    nn::BatchNorm2d bn{nullptr};
    std::string convName, bnName, reluName;  // reluName empty: no activation
    std::string padName;                     // non-empty: stride 2, zero-padded first
};

class KerasMobileNetV2Impl : public ClassifierImpl {
public:
    explicit KerasMobileNetV2Impl(const ModelConfig& c) : ClassifierImpl(c) {
        m_stem = stage(3, 32, 3, 2, 1, "Conv1", "bn_Conv1", "Conv1_relu", "Conv1_pad");
        // (expansion, channels, repeats, stride) as in Sandler et al. 2018; Keras numbers the
        // blocks 0..16 and calls block 0 "expanded_conv".
        const std::int64_t settings[7][4] = {{1, 16, 1, 1}, {6, 24, 2, 2}, {6, 32, 3, 2},
                                             {6, 64, 4, 2}, {6, 96, 3, 1}, {6, 160, 3, 2},
                                             {6, 320, 1, 1}};
        std::int64_t in = 32;
        int id = 0;
        for (const auto& s : settings) {
            for (std::int64_t i = 0; i < s[2]; ++i, ++id) {
                const std::int64_t stride = i == 0 ? s[3] : 1;
                const std::string p =
                    id == 0 ? "expanded_conv_" : "block_" + std::to_string(id) + "_";
                Block b;
                b.residual = stride == 1 && in == s[1];
                b.addName = p + "add";
                const std::int64_t hidden = in * s[0];
                if (id != 0)
                    b.expand = stage(in, hidden, 1, 1, 1, p + "expand", p + "expand_BN",
                                     p + "expand_relu", "");
                b.depthwise =
                    stage(hidden, hidden, 3, stride, hidden, p + "depthwise", p + "depthwise_BN",
                          p + "depthwise_relu", stride == 2 ? p + "pad" : "");
                b.project = stage(hidden, s[1], 1, 1, 1, p + "project", p + "project_BN", "", "");
                m_blocks.push_back(std::move(b));
                in = s[1];
            }
        }
        m_top = stage(in, 1280, 1, 1, 1, "Conv_1", "Conv_1_bn", "out_relu", "");
        if (c.head == Head::Flatten) {
            const std::int64_t side = featureSide(c.inputSize);
            m_dropout = register_module("dropout", nn::Dropout(c.dropout));
            m_out = register_module("predictions", nn::Linear(side * side * 1280, c.classCount));
        } else {
            m_out = register_module("predictions", nn::Linear(1280, c.classCount));
        }
    }

    torch::Tensor forwardFeatures(torch::Tensor x, const LayerTap* tap) override {
        x = run(m_stem, x, tap);
        for (Block& b : m_blocks) {
            const torch::Tensor input = x;
            if (b.expand.conv)
                x = run(b.expand, x, tap);
            x = run(b.depthwise, x, tap);
            x = run(b.project, x, tap);
            if (b.residual) {
                x = input + x;
                tapIf(tap, b.addName, x);
            }
        }
        x = run(m_top, x, tap);
        if (config().head != Head::Flatten) {
            x = x.mean({2, 3});
            tapIf(tap, "global_average_pooling2d", x);
        } else {
            x = x.permute({0, 2, 3, 1}).flatten(1);  // Keras flattens NHWC
            tapIf(tap, "flatten", x);
        }
        return x;
    }

    torch::Tensor forwardHead(torch::Tensor x, const LayerTap* tap) override {
        if (config().head == Head::Flatten) {
            x = m_dropout->forward(x);
            tapIf(tap, "dropout", x);
        }
        x = m_out->forward(x);
        tapIf(tap, "predictions", x);
        return x;
    }

private:
    struct Block {
        ConvBn expand, depthwise, project;
        bool residual = false;
        std::string addName;
    };

    ConvBn stage(std::int64_t in, std::int64_t out, std::int64_t k, std::int64_t stride,
                 std::int64_t groups, const std::string& convName, const std::string& bnName,
                 const std::string& reluName, const std::string& padName) {
        ConvBn s;
        // Stride 1 is Keras's 'same' (symmetric for odd kernels); stride 2 pads explicitly.
        const std::int64_t padding = stride == 1 ? (k - 1) / 2 : 0;
        s.conv = register_module(convName, nn::Conv2d(nn::Conv2dOptions(in, out, k)
                                                          .stride(stride)
                                                          .padding(padding)
                                                          .groups(groups)
                                                          .bias(false)));
        s.bn = register_module(
            bnName, nn::BatchNorm2d(nn::BatchNormOptions(out).eps(kEpsilon).momentum(kMomentum)));
        s.convName = convName;
        s.bnName = bnName;
        s.reluName = reluName;
        s.padName = padName;
        return s;
    }

    torch::Tensor run(ConvBn& s, torch::Tensor x, const LayerTap* tap) {
        if (!s.padName.empty()) {
            x = correctPad(x);
            tapIf(tap, s.padName, x);
        }
        x = s.conv->forward(x);
        tapIf(tap, s.convName, x);
        x = s.bn->forward(x);
        tapIf(tap, s.bnName, x);
        if (!s.reluName.empty()) {
            x = torch::hardtanh(x, 0.0, 6.0);
            tapIf(tap, s.reluName, x);
        }
        return x;
    }

    ConvBn m_stem, m_top;
    std::vector<Block> m_blocks;
    nn::Dropout m_dropout{nullptr};
    nn::Linear m_out{nullptr};
};

}  // namespace

Classifier makeKerasMobileNetV2(const ModelConfig& config) {
    return std::make_shared<KerasMobileNetV2Impl>(config);
}

}  // namespace convscope
