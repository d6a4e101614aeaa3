#include "models/kerasforms.h"

#include "error.h"

#include <nlohmann/json.hpp>

namespace convscope {

namespace {

using json = nlohmann::json;

/// A functional model config written layer by layer, each layer fed by the previous one
/// unless told otherwise.
class Builder {
public:
    explicit Builder(int inputSize) {
        m_layers.push_back({{"class_name", "InputLayer"},
                            {"name", "input_1"},
                            {"config",
                             {{"name", "input_1"},
                              {"batch_input_shape", {nullptr, inputSize, inputSize, 3}},
                              {"dtype", "float32"}}},
                            {"inbound_nodes", json::array()}});
        m_last = "input_1";
    }

    /// Adds a layer after `from` (the last one when empty); returns its name.
    std::string add(const std::string& className, const std::string& name, json config,
                    const std::vector<std::string>& from = {}) {
        config["name"] = name;
        json inputs = json::array();
        for (const std::string& f : from.empty() ? std::vector<std::string>{m_last} : from)
            inputs.push_back({f, 0, 0, json::object()});
        m_layers.push_back({{"class_name", className},
                            {"name", name},
                            {"config", std::move(config)},
                            {"inbound_nodes", json::array({inputs})}});
        m_last = name;
        return name;
    }

    const std::string& last() const { return m_last; }

    std::string text(const std::string& name) const {
        return json{{"class_name", "Functional"},
                    {"keras_version", "2.11.0"},
                    {"config",
                     {{"name", name},
                      {"layers", m_layers},
                      {"input_layers", {{"input_1", 0, 0}}},
                      {"output_layers", {{m_last, 0, 0}}}}}}
            .dump();
    }

private:
    json m_layers = json::array();
    std::string m_last;
};

json conv(int filters, int kernel, int stride, const char* padding, const char* activation,
          bool bias = true) {
    return {{"filters", filters}, {"kernel_size", {kernel, kernel}}, {"strides", {stride, stride}},
            {"padding", padding}, {"activation", activation},        {"use_bias", bias}};
}

json dense(std::int64_t units, const char* activation) {
    return {{"units", units}, {"activation", activation}};
}

json pool(int size) {
    return {{"pool_size", {size, size}}, {"strides", {size, size}}, {"padding", "valid"}};
}

void flattenHead(Builder& b, const ModelConfig& m, const char* hidden, std::int64_t units,
                 const char* out) {
    b.add("Flatten", "flatten", json::object());
    b.add("Dense", hidden, dense(units, "relu"));
    b.add("Dropout", "dropout", {{"rate", m.dropout}});
    b.add("Dense", out, dense(m.classCount, "linear"));
}

std::string smallNet(const ModelConfig& m) {
    Builder b(m.inputSize);
    const char* convs[] = {"conv2d", "conv2d_1", "conv2d_2"};
    const char* pools[] = {"max_pooling2d", "max_pooling2d_1", "max_pooling2d_2"};
    const int filters[] = {32, 32, 64};
    for (int i = 0; i < 3; ++i) {
        b.add("Conv2D", convs[i], conv(filters[i], 3, 1, "valid", "relu"));
        b.add("MaxPooling2D", pools[i], pool(2));
    }
    if (m.head == Head::GlobalAveragePool) {
        b.add("GlobalAveragePooling2D", "global_average_pooling2d", json::object());
        b.add("Dense", "dense", dense(m.classCount, "linear"));
    } else {
        flattenHead(b, m, "dense", 64, "dense_1");
    }
    return b.text("small");
}

std::string vgg16(const ModelConfig& m) {
    Builder b(m.inputSize);
    const int widths[5] = {64, 128, 256, 512, 512};
    const int depths[5] = {2, 2, 3, 3, 3};
    for (int block = 1; block <= 5; ++block) {
        for (int i = 1; i <= depths[block - 1]; ++i)
            b.add("Conv2D", "block" + std::to_string(block) + "_conv" + std::to_string(i),
                  conv(widths[block - 1], 3, 1, "same", "relu"));
        b.add("MaxPooling2D", "block" + std::to_string(block) + "_pool", pool(2));
    }
    if (m.head == Head::GlobalAveragePool) {
        b.add("GlobalAveragePooling2D", "global_average_pooling2d", json::object());
        b.add("Dense", "predictions", dense(m.classCount, "linear"));
    } else if (m.head == Head::Flatten) {
        flattenHead(b, m, "fc1", 256, "predictions");
    } else {
        // The published head; its fc1 takes 7 x 7 maps, so only a 224-pixel input builds it
        // whole (ConvScope's own VGG16 pools other sizes to 7 x 7, which Keras has no layer for).
        b.add("Flatten", "flatten", json::object());
        b.add("Dense", "fc1", dense(4096, "relu"));
        b.add("Dropout", "dropout", {{"rate", m.dropout}});
        b.add("Dense", "fc2", dense(4096, "relu"));
        b.add("Dropout", "dropout_1", {{"rate", m.dropout}});
        b.add("Dense", "predictions", dense(m.classCount, "linear"));
    }
    return b.text("vgg16");
}

std::string mobileNetV2(const ModelConfig& m) {
    Builder b(m.inputSize);
    int side = m.inputSize;
    // Keras's correct_pad before a stride-2 conv: an even side gets (0, 1), an odd one (1, 1).
    auto padded = [&](const std::string& name) {
        const int before = side % 2;
        b.add("ZeroPadding2D", name, {{"padding", {{before, 1}, {before, 1}}}});
        side = (side + before + 1 - 3) / 2 + 1;
    };
    auto bnRelu = [&](const std::string& bn, const std::string& relu) {
        b.add("BatchNormalization", bn,
              {{"axis", -1},
               {"epsilon", 1e-3},
               {"momentum", 0.999},
               {"center", true},
               {"scale", true}});
        if (!relu.empty())
            b.add("ReLU", relu, {{"max_value", 6.0}, {"negative_slope", 0.0}, {"threshold", 0.0}});
    };
    padded("Conv1_pad");
    b.add("Conv2D", "Conv1", conv(32, 3, 2, "valid", "linear", false));
    bnRelu("bn_Conv1", "Conv1_relu");
    const int settings[7][4] = {{1, 16, 1, 1}, {6, 24, 2, 2},  {6, 32, 3, 2}, {6, 64, 4, 2},
                                {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
    int in = 32, id = 0;
    for (const auto& s : settings) {
        for (int i = 0; i < s[2]; ++i, ++id) {
            const int stride = i == 0 ? s[3] : 1;
            const std::string p = id == 0 ? "expanded_conv_" : "block_" + std::to_string(id) + "_";
            const std::string input = b.last();
            if (id != 0) {
                b.add("Conv2D", p + "expand", conv(in * s[0], 1, 1, "same", "linear", false));
                bnRelu(p + "expand_BN", p + "expand_relu");
            }
            if (stride == 2)
                padded(p + "pad");
            b.add("DepthwiseConv2D", p + "depthwise",
                  {{"kernel_size", {3, 3}},
                   {"strides", {stride, stride}},
                   {"padding", stride == 2 ? "valid" : "same"},
                   {"depth_multiplier", 1},
                   {"activation", "linear"},
                   {"use_bias", false}});
            bnRelu(p + "depthwise_BN", p + "depthwise_relu");
            b.add("Conv2D", p + "project", conv(s[1], 1, 1, "same", "linear", false));
            bnRelu(p + "project_BN", "");
            if (stride == 1 && in == s[1])
                b.add("Add", p + "add", json::object(), {input, b.last()});
            in = s[1];
        }
    }
    b.add("Conv2D", "Conv_1", conv(1280, 1, 1, "valid", "linear", false));
    bnRelu("Conv_1_bn", "out_relu");
    if (m.head == Head::Flatten) {
        b.add("Flatten", "flatten", json::object());
        b.add("Dropout", "dropout", {{"rate", m.dropout}});
    } else {
        b.add("GlobalAveragePooling2D", "global_average_pooling2d", json::object());
    }
    b.add("Dense", "predictions", dense(m.classCount, "linear"));
    return b.text("mobilenetv2");
}

}  // namespace

bool hasKerasForm(const ModelConfig& m) {
    return m.architecture == Architecture::SmallConvNet || m.architecture == Architecture::Vgg16 ||
           (m.architecture == Architecture::MobileNetV2 && m.flavour == Flavour::Keras);
}

std::string kerasModelOf(const ModelConfig& m) {
    if (!hasKerasForm(m))
        throw Error(architectureName(m.architecture),
                    "has no Keras form (it follows torchvision), so it cannot be cut; use "
                    "mobilenetv2 with --flavour keras, small or vgg16, or a Keras model file");
    switch (m.architecture) {
        case Architecture::SmallConvNet:
            return smallNet(m);
        case Architecture::Vgg16:
            return vgg16(m);
        default:
            return mobileNetV2(m);
    }
}

ModelConfig asKerasNetwork(const ModelConfig& m) {
    if (m.architecture == Architecture::Keras)
        return m;
    ModelConfig out = m;
    out.kerasModel = kerasModelOf(m);
    out.architecture = Architecture::Keras;
    out.flavour = Flavour::Standard;
    return out;
}

}  // namespace convscope
