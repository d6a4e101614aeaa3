#include "models/kerasconfig.h"

#include "error.h"
#include "io/kerasarchive.h"
#include "io/tfjsmodel.h"
#include "util/atomicfile.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <map>

namespace convscope {

using nlohmann::json;

namespace {

struct ClassName {
    const char* name;
    KerasLayerType type;
};

// Keras 2 and TF.js also know some classes by an alias (MaxPool2D, Convolution2D).
const ClassName kClasses[] = {
    {"InputLayer", KerasLayerType::Input},
    {"Conv2D", KerasLayerType::Conv2D},
    {"Convolution2D", KerasLayerType::Conv2D},
    {"DepthwiseConv2D", KerasLayerType::DepthwiseConv2D},
    {"SeparableConv2D", KerasLayerType::SeparableConv2D},
    {"SeparableConvolution2D", KerasLayerType::SeparableConv2D},
    {"MaxPooling2D", KerasLayerType::MaxPooling2D},
    {"MaxPool2D", KerasLayerType::MaxPooling2D},
    {"AveragePooling2D", KerasLayerType::AveragePooling2D},
    {"AvgPool2D", KerasLayerType::AveragePooling2D},
    {"GlobalAveragePooling2D", KerasLayerType::GlobalAveragePooling2D},
    {"GlobalAvgPool2D", KerasLayerType::GlobalAveragePooling2D},
    {"GlobalMaxPooling2D", KerasLayerType::GlobalMaxPooling2D},
    {"GlobalMaxPool2D", KerasLayerType::GlobalMaxPooling2D},
    {"Dense", KerasLayerType::Dense},
    {"Flatten", KerasLayerType::Flatten},
    {"Dropout", KerasLayerType::Dropout},
    {"BatchNormalization", KerasLayerType::BatchNormalization},
    {"Activation", KerasLayerType::Activation},
    {"ReLU", KerasLayerType::ReLU},
    {"LeakyReLU", KerasLayerType::LeakyReLU},
    {"Softmax", KerasLayerType::Softmax},
    {"Add", KerasLayerType::Add},
    {"Concatenate", KerasLayerType::Concatenate},
    {"ZeroPadding2D", KerasLayerType::ZeroPadding2D},
    {"Rescaling", KerasLayerType::Rescaling},
};

const std::map<std::string, KerasActivation>& activationNames() {
    static const std::map<std::string, KerasActivation> names{
        {"linear", KerasActivation::Linear},
        {"relu", KerasActivation::Relu},
        {"relu6", KerasActivation::Relu6},
        {"sigmoid", KerasActivation::Sigmoid},
        {"tanh", KerasActivation::Tanh},
        {"softmax", KerasActivation::Softmax},
        {"elu", KerasActivation::Elu},
        {"selu", KerasActivation::Selu},
        {"swish", KerasActivation::Swish},
        {"silu", KerasActivation::Swish},
        {"hard_sigmoid", KerasActivation::HardSigmoid},
        {"hard_swish", KerasActivation::HardSwish},
        {"hard_silu", KerasActivation::HardSwish},
        {"gelu", KerasActivation::Gelu},
        {"softplus", KerasActivation::Softplus},
        {"softsign", KerasActivation::Softsign},
        {"exponential", KerasActivation::Exponential},
    };
    return names;
}

/// Reads one layer's options; every failure names the layer and its class.
class LayerReader {
public:
    LayerReader(const json& config, KerasLayer& layer, const std::string& source, bool keras3)
        : m_config(config), m_layer(layer), m_source(source), m_keras3(keras3) {}

    [[noreturn]] void fail(const std::string& what) const {
        throw Error(m_source, "layer '" + m_layer.name + "' (" + m_layer.className + ") " + what);
    }

    bool has(const char* key) const {
        return m_config.contains(key) && !m_config.at(key).is_null();
    }

    double number(const char* key, double fallback) const {
        if (!has(key))
            return fallback;
        const json& v = m_config.at(key);
        if (!v.is_number())
            fail(std::string("has a non-numeric ") + key);
        return v.get<double>();
    }

    std::int64_t integer(const json& v, const char* key) const {
        if (!v.is_number() || std::floor(v.get<double>()) != v.get<double>() ||
            std::abs(v.get<double>()) > 1e9)
            fail(std::string("has ") + key + " that is not a whole number");
        return std::int64_t(v.get<double>());
    }

    std::int64_t integer(const char* key, std::int64_t fallback) const {
        return has(key) ? integer(m_config.at(key), key) : fallback;
    }

    /// kernel_size, strides, pool_size, dilation_rate: a number or a pair.
    std::array<std::int64_t, 2> pair(const char* key, std::array<std::int64_t, 2> fallback) const {
        if (!has(key))
            return fallback;
        const json& v = m_config.at(key);
        std::array<std::int64_t, 2> out{};
        if (v.is_array()) {
            if (v.size() != 2)
                fail(std::string("has ") + key + " with " + std::to_string(v.size()) +
                     " values (2 expected)");
            out = {integer(v[0], key), integer(v[1], key)};
        } else {
            out = {integer(v, key), integer(v, key)};
        }
        if (out[0] < 1 || out[1] < 1)
            fail(std::string("has ") + key + " below 1");
        return out;
    }

    bool flag(const char* key, bool fallback) const {
        if (!has(key))
            return fallback;
        if (!m_config.at(key).is_boolean())
            fail(std::string("has a non-boolean ") + key);
        return m_config.at(key).get<bool>();
    }

    std::string text(const char* key, const std::string& fallback) const {
        if (!has(key))
            return fallback;
        if (!m_config.at(key).is_string())
            fail(std::string("has a non-text ") + key);
        return m_config.at(key).get<std::string>();
    }

    void requireChannelsLast() const {
        const std::string format = text("data_format", "channels_last");
        if (format != "channels_last")
            fail("uses data_format '" + format +
                 "', which ConvScope cannot build (only channels_last)");
    }

    KerasPadding padding() const {
        const std::string p = text("padding", "valid");
        if (p == "valid")
            return KerasPadding::Valid;
        if (p == "same")
            return KerasPadding::Same;
        fail("has padding '" + p + "', which ConvScope cannot build (valid or same)");
    }

    KerasActivation activation(const char* key) const {
        if (!has(key))
            return KerasActivation::Linear;
        const json& v = m_config.at(key);
        std::string name;
        if (v.is_string())
            name = v.get<std::string>();
        else if (v.is_object() && v.contains("config") && v.at("config").is_string())
            name = v.at("config").get<std::string>();  // Keras 3's serialized function
        else
            fail("has an activation ConvScope cannot read: " + v.dump().substr(0, 80));
        const auto it = activationNames().find(name);
        if (it == activationNames().end()) {
            std::string known;
            for (const auto& [n, a] : activationNames())
                known += (known.empty() ? "" : ", ") + n;
            fail("has activation '" + name + "', which ConvScope cannot run (supported: " + known +
                 ")");
        }
        if (it->second == KerasActivation::HardSigmoid && !m_keras3)
            return KerasActivation::HardSigmoidLegacy;
        return it->second;
    }

    int axis() const {
        if (!has("axis"))
            return -1;
        const json& v = m_config.at("axis");
        if (v.is_array()) {
            if (v.size() != 1)
                fail("normalises over several axes, which ConvScope cannot build");
            return int(integer(v[0], "axis"));
        }
        return int(integer(v, "axis"));
    }

    std::array<std::int64_t, 4> zeroPadding() const {
        if (!has("padding"))
            return {1, 1, 1, 1};
        const json& v = m_config.at("padding");
        if (v.is_number()) {
            const std::int64_t p = integer(v, "padding");
            return {p, p, p, p};
        }
        if (!v.is_array() || v.size() != 2)
            fail("has padding that is neither a number nor a pair");
        std::array<std::int64_t, 4> out{};
        for (std::size_t d = 0; d < 2; ++d) {
            if (v[d].is_array()) {
                if (v[d].size() != 2)
                    fail("has padding with a side that is not a pair");
                out[2 * d] = integer(v[d][0], "padding");
                out[2 * d + 1] = integer(v[d][1], "padding");
            } else {
                out[2 * d] = out[2 * d + 1] = integer(v[d], "padding");
            }
        }
        for (std::int64_t p : out)
            if (p < 0)
                fail("has negative padding");
        return out;
    }

    double scalar(const char* key, double fallback) const {
        if (has(key) && !m_config.at(key).is_number())
            fail(std::string("has a ") + key +
                 " that is not one number, which ConvScope cannot build");
        return number(key, fallback);
    }

    std::vector<std::int64_t> batchShape() const {
        for (const char* key : {"batch_input_shape", "batch_shape"}) {
            if (!has(key))
                continue;
            const json& v = m_config.at(key);
            if (!v.is_array() || v.empty())
                fail(std::string("has a ") + key + " that is not a list");
            std::vector<std::int64_t> shape;
            for (std::size_t i = 1; i < v.size(); ++i)
                shape.push_back(v[i].is_null() ? -1 : integer(v[i], key));
            return shape;
        }
        fail("has no batch_input_shape or batch_shape");
    }

private:
    const json& m_config;
    KerasLayer& m_layer;
    const std::string& m_source;
    bool m_keras3;
};

void readOptions(const json& config, KerasLayer& l, const std::string& source, bool keras3) {
    const LayerReader r(config, l, source, keras3);
    switch (l.type) {
        case KerasLayerType::Input:
            l.inputShape = r.batchShape();
            if (l.inputShape.size() != 3 && l.inputShape.size() != 1)
                r.fail("has an input of rank " + std::to_string(l.inputShape.size() + 1) +
                       ", which ConvScope cannot build (images (None, H, W, C) or vectors)");
            break;
        case KerasLayerType::Conv2D:
        case KerasLayerType::DepthwiseConv2D:
        case KerasLayerType::SeparableConv2D:
            r.requireChannelsLast();
            l.filters = r.integer("filters", 0);
            if (l.type != KerasLayerType::DepthwiseConv2D && l.filters < 1)
                r.fail("has no filters");
            l.kernel = r.pair("kernel_size", {0, 0});
            if (l.kernel[0] == 0)
                r.fail("has no kernel_size");
            l.strides = r.pair("strides", {1, 1});
            l.dilation = r.pair("dilation_rate", {1, 1});
            l.padding = r.padding();
            l.groups = r.integer("groups", 1);
            l.depthMultiplier = r.integer("depth_multiplier", 1);
            if (l.groups < 1 || l.depthMultiplier < 1)
                r.fail("has groups or depth_multiplier below 1");
            l.useBias = r.flag("use_bias", true);
            l.activation = r.activation("activation");
            break;
        case KerasLayerType::MaxPooling2D:
        case KerasLayerType::AveragePooling2D:
            r.requireChannelsLast();
            l.kernel = r.pair("pool_size", {2, 2});
            l.strides = r.pair("strides", l.kernel);
            l.padding = r.padding();
            break;
        case KerasLayerType::GlobalAveragePooling2D:
        case KerasLayerType::GlobalMaxPooling2D:
            r.requireChannelsLast();
            l.keepDims = r.flag("keepdims", false);
            break;
        case KerasLayerType::Dense:
            l.filters = r.integer("units", 0);
            if (l.filters < 1)
                r.fail("has no units");
            l.useBias = r.flag("use_bias", true);
            l.activation = r.activation("activation");
            break;
        case KerasLayerType::Flatten:
            r.requireChannelsLast();
            break;
        case KerasLayerType::Dropout:
            l.rate = r.number("rate", 0);
            if (l.rate < 0 || l.rate >= 1)
                r.fail("has a rate outside [0, 1)");
            break;
        case KerasLayerType::BatchNormalization:
            l.axis = r.axis();
            l.epsilon = r.number("epsilon", 1e-3);
            l.momentum = r.number("momentum", 0.99);
            l.center = r.flag("center", true);
            l.scale = r.flag("scale", true);
            break;
        case KerasLayerType::Activation:
            l.activation = r.activation("activation");
            break;
        case KerasLayerType::ReLU:
            if (r.has("max_value"))
                l.maxValue = r.number("max_value", 0);
            l.negativeSlope = r.number("negative_slope", 0);
            l.threshold = r.number("threshold", 0);
            break;
        case KerasLayerType::LeakyReLU:
            l.negativeSlope = r.number("negative_slope", r.number("alpha", 0.3));
            break;
        case KerasLayerType::Softmax:
        case KerasLayerType::Concatenate:
            l.axis = r.axis();
            break;
        case KerasLayerType::Add:
            break;
        case KerasLayerType::ZeroPadding2D:
            r.requireChannelsLast();
            l.zeroPadding = r.zeroPadding();
            break;
        case KerasLayerType::Rescaling:
            l.rescale = r.scalar("scale", 1);
            l.offset = r.scalar("offset", 0);
            break;
    }
}

/// Keras 2 / TF.js: [["conv2d_1", 0, 0, {}], ...]. Keras 3: {"args": [...], "kwargs": {...}}
/// with "__keras_tensor__" objects whose keras_history is [layer, node, tensor].
void collectKeras3Tensors(const json& j, std::vector<KerasTensorRef>& out) {
    if (j.is_array()) {
        for (const json& item : j)
            collectKeras3Tensors(item, out);
    } else if (j.is_object()) {
        if (j.value("class_name", "") == "__keras_tensor__") {
            const json& h = j.at("config").at("keras_history");
            out.push_back({h.at(0).get<std::string>(), h.at(1).get<int>(), h.at(2).get<int>()});
            return;
        }
        for (const auto& item : j.items())
            collectKeras3Tensors(item.value(), out);
    }
}

std::vector<KerasTensorRef> readCall(const json& node) {
    std::vector<KerasTensorRef> refs;
    if (node.is_object()) {
        collectKeras3Tensors(node.contains("args") ? node.at("args") : json::array(), refs);
        return refs;
    }
    for (const json& entry : node)
        refs.push_back({entry.at(0).get<std::string>(), entry.at(1).get<int>(),
                        entry.size() > 2 ? entry.at(2).get<int>() : 0});
    return refs;
}

/// input_layers / output_layers: a list of [name, node, tensor], or Keras 3's one triple.
std::vector<KerasTensorRef> readEnds(const json& j) {
    std::vector<KerasTensorRef> refs;
    if (!j.is_array() || j.empty())
        return refs;
    if (j.at(0).is_string())
        return {{j.at(0).get<std::string>(), j.size() > 1 ? j.at(1).get<int>() : 0,
                 j.size() > 2 ? j.at(2).get<int>() : 0}};
    for (const json& e : j)
        refs.push_back({e.at(0).get<std::string>(), e.size() > 1 ? e.at(1).get<int>() : 0,
                        e.size() > 2 ? e.at(2).get<int>() : 0});
    return refs;
}

KerasLayer readLayer(const json& entry, const std::string& source, bool keras3) {
    KerasLayer l;
    l.className = entry.value("class_name", "");
    static const json kNoConfig = json::object();
    const json& config = entry.contains("config") ? entry.at("config") : kNoConfig;
    if (entry.contains("name") && entry.at("name").is_string())
        l.name = entry.at("name").get<std::string>();
    else if (config.is_object() && config.contains("name") && config.at("name").is_string())
        l.name = config.at("name").get<std::string>();
    if (l.name.empty())
        throw Error(source, "a layer of class " + l.className + " has no name");
    if (l.className == "Sequential" || l.className == "Functional" || l.className == "Model")
        throw Error(source, "layer '" + l.name + "' is a nested model (" + l.className +
                                "), which ConvScope cannot build yet");
    bool known = false;
    for (const ClassName& c : kClasses)
        if (l.className == c.name) {
            l.type = c.type;
            known = true;
        }
    if (!known)
        throw Error(source, "layer '" + l.name + "' is a " + l.className +
                                ", which ConvScope cannot build (supported: " +
                                supportedKerasLayers() + ")");
    readOptions(config.is_object() ? config : kNoConfig, l, source, keras3);
    if (entry.contains("inbound_nodes"))
        for (const json& node : entry.at("inbound_nodes"))
            l.calls.push_back(readCall(node));
    return l;
}

/// A Sequential model in functional form: an input layer first, then a chain.
void chainSequential(const json& body, KerasModelConfig& model, const std::string& source,
                     bool keras3) {
    const json& layers = body.is_array() ? body : body.at("layers");
    for (const json& entry : layers)
        model.layers.push_back(readLayer(entry, source, keras3));
    if (model.layers.empty())
        throw Error(source, "the Sequential model has no layers");
    if (model.layers.front().type != KerasLayerType::Input) {
        // Keras 2 keeps the input's shape on the first layer (batch_input_shape); Keras 3 on
        // the model (build_input_shape).
        json shapeHolder = json::object();
        const json& first = layers.at(0).at("config");
        if (first.contains("batch_input_shape"))
            shapeHolder["batch_input_shape"] = first.at("batch_input_shape");
        else if (body.is_object() && body.contains("build_input_shape"))
            shapeHolder["batch_shape"] = body.at("build_input_shape");
        KerasLayer input;
        input.name = model.layers.front().name + "_input";
        input.className = "InputLayer";
        input.type = KerasLayerType::Input;
        readOptions(shapeHolder, input, source, keras3);
        model.layers.insert(model.layers.begin(), std::move(input));
    }
    for (std::size_t i = 1; i < model.layers.size(); ++i) {
        if (model.layers[i].type == KerasLayerType::Input)
            throw Error(source, "the Sequential model has a second input layer '" +
                                    model.layers[i].name + "'");
        model.layers[i].calls = {{{model.layers[i - 1].name, 0, 0}}};
    }
    model.inputs = {{model.layers.front().name, 0, 0}};
    model.outputs = {{model.layers.back().name, 0, 0}};
}

}  // namespace

const char* kerasLayerTypeName(KerasLayerType type) {
    for (const ClassName& c : kClasses)
        if (c.type == type)
            return c.name;
    return "?";
}

std::string supportedKerasLayers() {
    std::string text;
    KerasLayerType previous = KerasLayerType::Input;
    for (const ClassName& c : kClasses) {
        if (!text.empty() && c.type == previous)
            continue;  // an alias
        text += (text.empty() ? "" : ", ") + std::string(c.name);
        previous = c.type;
    }
    return text;
}

KerasModelConfig parseKerasModelConfig(const std::string& jsonText, const std::string& source) {
    return atBoundary(source, [&] {
        KerasModelConfig model;
        try {
            const json root = json::parse(jsonText);
            if (!root.is_object())
                throw Error(source, "is not a Keras model config (not a JSON object)");
            const json* config = &root;
            if (root.contains("modelTopology")) {
                model.hasTfjsWeights = root.contains("weightsManifest");
                const json& topology = root.at("modelTopology");
                model.kerasVersion = topology.value("keras_version", "");
                config =
                    topology.contains("model_config") ? &topology.at("model_config") : &topology;
            }
            if (model.kerasVersion.empty() && config->contains("keras_version"))
                model.kerasVersion = config->at("keras_version").get<std::string>();
            if (!config->contains("class_name") || !config->contains("config"))
                throw Error(source, "is not a Keras model config (no class_name and config)");
            model.className = config->at("class_name").get<std::string>();
            const json& body = config->at("config");
            if (body.is_object())
                model.name = body.value("name", "");
            // Keras 3 writes "module" on every object; Keras 2 and TF.js never do.
            const bool keras3 = model.kerasVersion.rfind("3.", 0) == 0 ||
                                (model.kerasVersion.empty() && config->contains("module"));
            if (model.className == "Sequential") {
                chainSequential(body, model, source, keras3);
                return model;
            }
            if (model.className != "Functional" && model.className != "Model")
                throw Error(source, "is a " + model.className +
                                        ", not a Keras Sequential or functional model");
            for (const json& entry : body.at("layers"))
                model.layers.push_back(readLayer(entry, source, keras3));
            model.inputs = readEnds(body.at("input_layers"));
            model.outputs = readEnds(body.at("output_layers"));
            if (model.inputs.empty() || model.outputs.empty())
                throw Error(source, "the model has no input_layers or output_layers");
        } catch (const json::exception& e) {
            throw Error(source, std::string("damaged Keras model config (") + e.what() + ")");
        }
        return model;
    });
}

std::string readKerasModelText(const std::string& path) {
    return atBoundary(path, [&] {
        if (!std::filesystem::is_regular_file(path))
            throw Error(path, "no such file");
        if (isKerasArchive(path)) {
            std::string config = readKerasArchive(path, /*withValues=*/false).modelConfig;
            parseKerasModelConfig(config, path);
            return config;
        }
        if (!looksLikeJson(path)) {
            // A whole-model HDF5 file keeps its config in an attribute.
            std::string config = readKerasWeights(path, /*withValues=*/false).modelConfig;
            if (config.empty())
                throw Error(path,
                            "holds weights but no model config (save_weights writes "
                            "none): give the model's to_json() file");
            parseKerasModelConfig(config, path);
            return config;
        }
        const std::string text = readTextFile(path);
        parseKerasModelConfig(text, path);  // refuses what cannot be built, naming the layer
        json root = json::parse(text);
        if (!root.contains("modelTopology"))
            return root.dump();
        const json& topology = root.at("modelTopology");
        json config = topology.contains("model_config") ? topology.at("model_config") : topology;
        if (!config.contains("keras_version") && topology.contains("keras_version"))
            config["keras_version"] = topology.at("keras_version");
        return config.dump();
    });
}

KerasModelConfig readKerasModelConfig(const std::string& path) {
    return atBoundary(path, [&] {
        if (!std::filesystem::is_regular_file(path))
            throw Error(path, "no such file");
        return parseKerasModelConfig(readTextFile(path), path);
    });
}

}  // namespace convscope
