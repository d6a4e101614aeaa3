#include "models/kerassurgery.h"

#include "error.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <set>

namespace convscope {

namespace {

constexpr const char* kSpec = "--append";

std::vector<std::string> splitOn(const std::string& text, char separator) {
    std::vector<std::string> parts;
    std::size_t start = 0;
    while (true) {
        const std::size_t end = text.find(separator, start);
        parts.push_back(text.substr(start, end == std::string::npos ? end : end - start));
        if (end == std::string::npos)
            return parts;
        start = end + 1;
    }
}

std::string trimmed(const std::string& s) {
    const auto first = s.find_first_not_of(" \t");
    if (first == std::string::npos)
        return {};
    return s.substr(first, s.find_last_not_of(" \t") - first + 1);
}

/// One spec item ("conv:64:3") and its fields, for messages.
struct Item {
    std::string text;
    std::vector<std::string> fields;

    [[noreturn]] void fail(const std::string& why) const {
        throw Error(kSpec, "'" + text + "': " + why);
    }

    void expectFields(std::size_t least, std::size_t most, const char* form) const {
        if (fields.size() - 1 < least || fields.size() - 1 > most)
            fail(std::string("write it as ") + form);
    }

    std::int64_t count(std::size_t i, const char* what, std::int64_t max) const {
        std::int64_t value = 0;
        const std::string& f = fields[i];
        const auto [end, ec] = std::from_chars(f.data(), f.data() + f.size(), value);
        if (ec != std::errc() || end != f.data() + f.size() || value < 1 || value > max)
            fail(std::string(what) + " must be a whole number from 1 to " + std::to_string(max));
        return value;
    }

    double rate(std::size_t i) const {
        try {
            std::size_t used = 0;
            const double value = std::stod(fields[i], &used);
            if (used == fields[i].size() && value >= 0 && value < 1)
                return value;
        } catch (const std::exception&) {
        }
        fail("the rate must be a number from 0 up to (not including) 1");
    }
};

/// The items without options: gap, gmp, flatten, bn, relu.
const KerasLayerType* plainLayer(const std::string& kind) {
    static const std::map<std::string, KerasLayerType> plain{
        {"gap", KerasLayerType::GlobalAveragePooling2D},
        {"gmp", KerasLayerType::GlobalMaxPooling2D},
        {"flatten", KerasLayerType::Flatten},
        {"bn", KerasLayerType::BatchNormalization},
        {"relu", KerasLayerType::ReLU}};
    const auto it = plain.find(kind);
    return it == plain.end() ? nullptr : &it->second;
}

KerasLayer layerOf(const Item& item) {
    KerasLayer l;
    const std::string& kind = item.fields[0];
    auto convolution = [&](KerasLayerType type, const char* className) {
        l.type = type;
        l.className = className;
        l.filters = item.count(1, "the filter count", 65536);
        const std::int64_t k = item.count(2, "the kernel size", 64);
        l.kernel = {k, k};
        l.padding = KerasPadding::Same;
        l.activation = KerasActivation::Relu;
    };
    if (kind == "conv") {
        item.expectFields(2, 3, "conv:FILTERS:KERNEL or conv:FILTERS:KERNEL:STRIDE");
        convolution(KerasLayerType::Conv2D, "Conv2D");
        if (item.fields.size() == 4) {
            const std::int64_t s = item.count(3, "the stride", 64);
            l.strides = {s, s};
        }
    } else if (kind == "sepconv") {
        item.expectFields(2, 2, "sepconv:FILTERS:KERNEL");
        convolution(KerasLayerType::SeparableConv2D, "SeparableConv2D");
    } else if (kind == "maxpool" || kind == "avgpool") {
        item.expectFields(1, 1, kind == "maxpool" ? "maxpool:SIZE" : "avgpool:SIZE");
        l.type =
            kind == "maxpool" ? KerasLayerType::MaxPooling2D : KerasLayerType::AveragePooling2D;
        l.className = kind == "maxpool" ? "MaxPooling2D" : "AveragePooling2D";
        const std::int64_t p = item.count(1, "the pool size", 64);
        l.kernel = {p, p};
        l.strides = {p, p};
    } else if (const KerasLayerType* plain = plainLayer(kind)) {
        item.expectFields(0, 0, kind.c_str());
        l.type = *plain;
        l.className = kerasLayerTypeName(*plain);
    } else if (kind == "dense") {
        item.expectFields(1, 1, "dense:UNITS");
        l.type = KerasLayerType::Dense;
        l.className = "Dense";
        l.filters = item.count(1, "the unit count", 1 << 20);
        l.activation = KerasActivation::Relu;
    } else if (kind == "dropout") {
        item.expectFields(1, 1, "dropout:RATE");
        l.type = KerasLayerType::Dropout;
        l.className = "Dropout";
        l.rate = item.rate(1);
    } else {
        item.fail(
            "unknown layer; use conv, sepconv, maxpool, avgpool, gap, gmp, flatten, bn, relu, "
            "dense or dropout");
    }
    return l;
}

/// Keras's default layer name for a class: "Conv2D" -> "conv2d", "MaxPooling2D" ->
/// "max_pooling2d", "BatchNormalization" -> "batch_normalization".
std::string snakeCase(const std::string& className) {
    std::string out;
    for (std::size_t i = 0; i < className.size(); ++i) {
        const char c = className[i];
        const bool upper = c >= 'A' && c <= 'Z';
        if (upper && i > 0 && className[i - 1] >= 'a' && className[i - 1] <= 'z')
            out += '_';
        out += upper ? char(c - 'A' + 'a') : c;
    }
    return out;
}

std::string uniqueName(const std::string& base, std::set<std::string>& taken) {
    std::string name = base;
    for (int k = 1; taken.count(name); ++k)
        name = base + "_" + std::to_string(k);
    taken.insert(name);
    return name;
}

std::set<std::string> namesOf(const KerasModelConfig& config) {
    std::set<std::string> names;
    for (const KerasLayer& l : config.layers)
        names.insert(l.name);
    return names;
}

const KerasLayer* findLayer(const KerasModelConfig& config, const std::string& name) {
    for (const KerasLayer& l : config.layers)
        if (l.name == name)
            return &l;
    return nullptr;
}

bool isConvolution(KerasLayerType t) {
    return t == KerasLayerType::Conv2D || t == KerasLayerType::DepthwiseConv2D ||
           t == KerasLayerType::SeparableConv2D;
}

/// The layers the output depends on, inputs first (layer-level: a shared layer's calls are
/// one node), and who reads whom.
struct LayerOrder {
    std::vector<std::string> order;
    std::map<std::string, std::set<std::string>> readers;
};

LayerOrder orderFrom(const KerasModelConfig& config, const std::string& output) {
    LayerOrder out;
    std::set<std::string> done, open;
    std::vector<std::pair<std::string, std::size_t>> stack{{output, 0}};
    while (!stack.empty()) {
        auto& [name, next] = stack.back();
        const KerasLayer* l = findLayer(config, name);
        std::vector<std::string> inputs;
        if (l)
            for (const auto& call : l->calls)
                for (const KerasTensorRef& ref : call)
                    inputs.push_back(ref.layer);
        open.insert(name);
        if (next < inputs.size()) {
            const std::string input = inputs[next++];
            out.readers[input].insert(name);
            if (!done.count(input) && !open.count(input))
                stack.emplace_back(input, 0);
            continue;
        }
        open.erase(name);
        done.insert(name);
        out.order.push_back(name);
        stack.pop_back();
    }
    return out;
}

std::string freezePointOf(const KerasModelConfig& backbone, const std::string& output) {
    const LayerOrder o = orderFrom(backbone, output);
    std::map<std::string, std::size_t> position;
    for (std::size_t i = 0; i < o.order.size(); ++i)
        position[o.order[i]] = i;
    std::vector<bool> convolutionAfter(o.order.size() + 1, false);
    for (std::size_t i = o.order.size(); i-- > 0;) {
        const KerasLayer* l = findLayer(backbone, o.order[i]);
        convolutionAfter[i] = convolutionAfter[i + 1] || (l && isConvolution(l->type));
    }
    // A layer every path passes through: no edge jumps over its position.
    std::string lastMerge;
    std::size_t reach = 0;
    for (std::size_t i = 0; i < o.order.size(); ++i) {
        const KerasLayer* l = findLayer(backbone, o.order[i]);
        const bool throughAll = reach <= i;
        if (l && throughAll && convolutionAfter[i + 1] &&
            (l->type == KerasLayerType::Add || l->type == KerasLayerType::Concatenate))
            lastMerge = l->name;
        if (const auto it = o.readers.find(o.order[i]); it != o.readers.end())
            for (const std::string& reader : it->second)
                reach = std::max(reach, position[reader]);
    }
    if (!lastMerge.empty())
        return lastMerge;
    for (std::size_t i = o.order.size(); i-- > 1;) {
        const KerasLayer* l = findLayer(backbone, o.order[i]);
        if (l && isConvolution(l->type))
            return o.order[i - 1];
    }
    return o.order.front();
}

bool endsInProbabilities(const KerasLayer& l) {
    const bool squashing =
        l.activation == KerasActivation::Softmax || l.activation == KerasActivation::Sigmoid;
    return l.type == KerasLayerType::Softmax || (l.type == KerasLayerType::Activation && squashing);
}

}  // namespace

std::vector<KerasLayer> parseAppendSpec(const std::string& spec, const std::string& input,
                                        const std::vector<std::string>& taken) {
    std::set<std::string> names(taken.begin(), taken.end());
    std::vector<KerasLayer> layers;
    if (trimmed(spec).empty())
        return layers;
    std::string previous = input;
    for (const std::string& raw : splitOn(spec, ',')) {
        Item item;
        item.text = trimmed(raw);
        for (const std::string& f : splitOn(item.text, ':'))
            item.fields.push_back(trimmed(f));
        if (item.text.empty())
            throw Error(kSpec, "an empty item (two commas, or a comma at an end)");
        KerasLayer l = layerOf(item);
        l.name = uniqueName("added_" + snakeCase(l.className), names);
        l.calls = {{KerasTensorRef{previous, 0, 0}}};
        previous = l.name;
        layers.push_back(std::move(l));
    }
    return layers;
}

KerasModelConfig cutAndAppend(KerasModelConfig config, const std::string& cutAfter,
                              const std::string& appendSpec) {
    const KerasLayer* cut = findLayer(config, cutAfter);
    if (!cut)
        throw Error(cutAfter, "no such layer in the model (see `convscope summary`)");
    if (cut->type == KerasLayerType::Input)
        throw Error(cutAfter, "is the input layer: cut after a layer that computes something");
    const int lastCall = std::max(0, int(cut->calls.size()) - 1);
    std::vector<std::string> taken;
    for (const KerasLayer& l : config.layers)
        taken.push_back(l.name);
    std::vector<KerasLayer> added = parseAppendSpec(appendSpec, cutAfter, taken);
    if (!added.empty())
        added.front().calls = {{KerasTensorRef{cutAfter, lastCall, 0}}};
    config.outputs = {KerasTensorRef{added.empty() ? cutAfter : added.back().name,
                                     added.empty() ? lastCall : 0, 0}};
    for (KerasLayer& l : added)
        config.layers.push_back(std::move(l));
    return config;
}

KerasNetworkPlan planKerasNetwork(const ModelConfig& model) {
    KerasModelConfig config = parseKerasModelConfig(model.kerasModel, "Keras model");
    const std::string source = config.name.empty() ? "Keras model" : config.name;
    if (config.inputs.size() != 1 || config.outputs.size() != 1)
        throw Error(source, "has " + std::to_string(config.inputs.size()) + " inputs and " +
                                std::to_string(config.outputs.size()) +
                                " outputs; a classifier takes one image and gives one output");
    for (KerasLayer& l : config.layers) {
        if (l.name != config.inputs[0].layer)
            continue;
        if (l.inputShape.size() != 3 || (l.inputShape[2] != 3 && l.inputShape[2] != -1))
            throw Error(source,
                        "its input '" + l.name + "' does not take RGB images (height, width, 3)");
        l.inputShape = {model.inputSize, model.inputSize, 3};
    }
    KerasNetworkPlan plan;
    std::set<std::string> names = namesOf(config);
    KerasTensorRef features;
    if (!model.cutAfter.empty() || !model.append.empty()) {
        if (model.cutAfter.empty())
            throw Error("--append", "needs --cut-after LAYER: where the new layers go");
        config = cutAndAppend(std::move(config), model.cutAfter, model.append);
        features = config.outputs[0];
        plan.head = uniqueName("predictions", names);
    } else {
        KerasTensorRef at = config.outputs[0];
        const KerasLayer* l = findLayer(config, at.layer);
        while (l && endsInProbabilities(*l) && l->calls.size() == 1 && l->calls[0].size() == 1) {
            at = l->calls[0][0];
            l = findLayer(config, at.layer);
        }
        if (!l || l->type != KerasLayerType::Dense || l->calls.size() != 1 ||
            l->calls[0].size() != 1)
            throw Error(source,
                        "its output is not a dense layer (then a softmax at most), so it "
                        "has no classifier to train; cut it with --cut-after LAYER "
                        "(--append ...) to add one");
        plan.head = l->name;
        features = l->calls[0][0];
    }
    config.outputs = {features};
    plan.features = features.layer;
    // Through dropout, the head reads global average pooling: CAM's form.
    const KerasLayer* fed = findLayer(config, features.layer);
    while (fed && fed->type == KerasLayerType::Dropout && fed->calls.size() == 1)
        fed = findLayer(config, fed->calls[0][0].layer);
    plan.headKind = fed && fed->type == KerasLayerType::GlobalAveragePooling2D && !fed->keepDims
                        ? Head::GlobalAveragePool
                        : Head::Original;
    plan.freezePoint = freezePointOf(config, features.layer);
    plan.backbone = std::move(config);
    return plan;
}

}  // namespace convscope

namespace convscope {

std::string networkName(const ModelConfig& model) {
    if (model.architecture != Architecture::Keras)
        return architectureName(model.architecture);
    std::string name = "keras";
    try {
        const std::string own = parseKerasModelConfig(model.kerasModel, "Keras model").name;
        if (!own.empty())
            name += " " + own;
    } catch (const Error&) {
    }
    if (!model.cutAfter.empty())
        name +=
            ", cut after " + model.cutAfter + (model.append.empty() ? "" : " + " + model.append);
    return name;
}

}  // namespace convscope
