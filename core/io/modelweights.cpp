#include "io/modelweights.h"

#include "error.h"
#include "io/kerasweights.h"
#include "io/kernellayout.h"
#include "models/kerasclassifier.h"
#include "models/modeljson.h"
#include "util/text.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <cmath>
#include <map>
#include <set>

namespace convscope {

namespace {

enum class LayerKind { Conv, DepthwiseConv, Dense, BatchNorm };

/// A model layer with weights, and its tensors in Keras's order and names.
struct ModelLayer {
    std::string name;
    LayerKind kind;
    std::vector<std::pair<std::string, torch::Tensor>> tensors;  // keras name -> torch tensor
};

std::vector<ModelLayer> layersOf(ClassifierImpl& model) {
    std::vector<ModelLayer> layers;
    for (const auto& item : model.named_modules("", false)) {
        torch::nn::Module* m = item.value().get();
        ModelLayer layer;
        layer.name = item.key();
        if (auto* conv = dynamic_cast<torch::nn::Conv2dImpl*>(m)) {
            const auto& o = conv->options;
            const bool depthwise = o.groups() > 1 && o.groups() == o.in_channels() &&
                                   o.out_channels() == o.in_channels();
            layer.kind = depthwise ? LayerKind::DepthwiseConv : LayerKind::Conv;
            layer.tensors.emplace_back(depthwise ? "depthwise_kernel:0" : "kernel:0", conv->weight);
            if (conv->bias.defined())
                layer.tensors.emplace_back("bias:0", conv->bias);
        } else if (auto* dense = dynamic_cast<torch::nn::LinearImpl*>(m)) {
            layer.kind = LayerKind::Dense;
            layer.tensors.emplace_back("kernel:0", dense->weight);
            if (dense->bias.defined())
                layer.tensors.emplace_back("bias:0", dense->bias);
        } else if (auto* bn = dynamic_cast<torch::nn::BatchNorm2dImpl*>(m)) {
            layer.kind = LayerKind::BatchNorm;
            layer.tensors = {{"gamma:0", bn->weight},
                             {"beta:0", bn->bias},
                             {"moving_mean:0", bn->running_mean},
                             {"moving_variance:0", bn->running_var}};
        } else {
            continue;
        }
        layers.push_back(std::move(layer));
    }
    return layers;
}

/// Torch layout -> Keras layout.
torch::Tensor toKeras(const torch::Tensor& t, LayerKind kind, const std::string& name) {
    const bool kernel = name == "kernel:0" || name == "depthwise_kernel:0";
    if (!kernel)
        return t;
    switch (kind) {
        case LayerKind::Conv:
            return t.permute({2, 3, 1, 0});  // OIHW -> HWIO
        case LayerKind::DepthwiseConv:
            return t.permute({2, 3, 0, 1});  // C1HW -> HWC1
        case LayerKind::Dense:
            return t.t();  // (out, in) -> (in, out)
        case LayerKind::BatchNorm:
            return t;
    }
    return t;
}

/// Keras layout -> torch layout (the inverse permutations).
torch::Tensor fromKeras(const torch::Tensor& t, LayerKind kind, const std::string& name) {
    const bool kernel = name == "kernel:0" || name == "depthwise_kernel:0";
    if (!kernel || t.dim() < 2)
        return t;
    switch (kind) {
        case LayerKind::Conv:
            return t.dim() == 4 ? t.permute({3, 2, 0, 1}) : t;
        case LayerKind::DepthwiseConv:
            return t.dim() == 4 ? t.permute({2, 3, 0, 1}) : t;
        case LayerKind::Dense:
            return t.t();
        case LayerKind::BatchNorm:
            return t;
    }
    return t;
}

std::string metadataJson(const WeightsMetadata& m) {
    nlohmann::json j{{"class_names", m.classNames},
                     {"preprocessing", preprocessingToJson(m.preprocessing)}};
    addModelConfig(j, m.model, /*withClassCount=*/true);
    return j.dump();
}

WeightsMetadata metadataFromJson(const std::string& text, const std::string& path) {
    try {
        const nlohmann::json j = nlohmann::json::parse(text);
        WeightsMetadata m;
        m.model = modelConfigFromJson(j, /*withClassCount=*/true);
        m.classNames = j.at("class_names").get<std::vector<std::string>>();
        m.preprocessing = preprocessingFromJson(j.at("preprocessing"));
        return m;
    } catch (const nlohmann::json::exception& e) {
        throw Error(path, std::string("damaged ConvScope metadata (") + e.what() + ")");
    } catch (const Error& e) {
        throw Error(path, "damaged ConvScope metadata (" + std::string(e.what()) + ")");
    }
}

constexpr const char* kMetadataKey = "model";

using Pairs = std::vector<std::pair<const ModelLayer*, const LayerWeights*>>;

/// Matches layers by name; model layers in `exclude` are left out (reported as not in the file)
/// and a file layer of the same name as one of them is reported as not in the model.
Pairs pairByName(const std::vector<ModelLayer>& layers,
                 const std::vector<const LayerWeights*>& fileLayers, LoadReport& report,
                 const std::set<std::string>& exclude) {
    std::map<std::string, const LayerWeights*> byLayer;
    for (const LayerWeights* l : fileLayers)
        byLayer[l->name] = l;
    Pairs pairs;
    for (const ModelLayer& layer : layers) {
        const auto it = byLayer.find(layer.name);
        if (it == byLayer.end() || exclude.count(layer.name)) {
            report.notInFile.push_back(layer.name);
        } else {
            pairs.emplace_back(&layer, it->second);
            byLayer.erase(it);
        }
    }
    for (const LayerWeights* l : fileLayers)
        if (byLayer.count(l->name))
            report.notInModel.push_back(l->name);
    return pairs;
}

/// The Keras 2 name of a stored array ("kernel", "moving_mean"), or empty when unknown.
/// Understands "<layer>/kernel:0", TF.js's "<layer>/kernel" and Keras 1's "<layer>_W_1:0".
std::string canonicalArrayName(std::string name, const std::string& layer) {
    if (const auto colon = name.rfind(':'); colon != std::string::npos)
        name.erase(colon);
    if (const auto slash = name.rfind('/'); slash != std::string::npos)
        name.erase(0, slash + 1);
    static const std::set<std::string> known{
        "kernel", "bias", "gamma", "beta", "moving_mean", "moving_variance", "depthwise_kernel"};
    if (known.count(name))
        return name;
    if (name.compare(0, layer.size() + 1, layer + "_") == 0) {
        std::string rest = name.substr(layer.size() + 1);
        const auto underscore = rest.rfind('_');
        if (underscore != std::string::npos &&
            rest.find_first_not_of("0123456789", underscore + 1) == std::string::npos)
            rest.erase(underscore);
        if (rest == "W")
            return "kernel";
        if (rest == "b")
            return "bias";
        if (known.count(rest))
            return rest;
    }
    return {};
}

/// The file's arrays in the model layer's order: by name when every name is known and
/// matches, else as stored.
std::vector<const WeightArray*> arraysInModelOrder(const ModelLayer& layer,
                                                   const LayerWeights& weights) {
    std::vector<const WeightArray*> ordered;
    for (const auto& a : weights.weights)
        ordered.push_back(&a);
    std::map<std::string, const WeightArray*> byName;
    for (const auto& a : weights.weights)
        byName[canonicalArrayName(a.storedName.empty() ? a.name : a.storedName, weights.name)] = &a;
    if (byName.count("") || byName.size() != layer.tensors.size())
        return ordered;
    std::vector<const WeightArray*> named;
    for (const auto& [name, tensor] : layer.tensors) {
        const auto it = byName.find(name.substr(0, name.find(':')));
        if (it == byName.end())
            return ordered;
        named.push_back(it->second);
    }
    return named;
}

/// The dense layer that reads the flattened feature maps and their shape: the model's first
/// dense layer, whose inputs are the last convolution's channels times a square map.
struct FlattenInput {
    const ModelLayer* dense = nullptr;
    std::int64_t channels = 0;
    std::int64_t side = 0;
};

FlattenInput flattenInputOf(const std::vector<ModelLayer>& layers) {
    std::int64_t channels = 0;
    for (const ModelLayer& layer : layers) {
        const torch::Tensor& first = layer.tensors.front().second;
        if (layer.kind == LayerKind::Conv || layer.kind == LayerKind::DepthwiseConv)
            channels = first.size(0);
        if (layer.kind != LayerKind::Dense)
            continue;
        const std::int64_t inputs = first.size(1);
        if (channels == 0 || inputs % channels != 0)
            return {};
        const auto side = std::int64_t(std::llround(std::sqrt(double(inputs / channels))));
        if (side * side != inputs / channels)
            return {};
        return {&layer, channels, side};
    }
    return {};
}

/// The plain convolution kernels of the pairs, with the shapes the layout is judged by.
std::vector<ConvKernelShapes> convKernels(const Pairs& pairs) {
    std::vector<ConvKernelShapes> kernels;
    for (const auto& [layer, weights] : pairs) {
        if (layer->kind != LayerKind::Conv || weights->weights.size() != layer->tensors.size())
            continue;
        const auto arrays = arraysInModelOrder(*layer, *weights);
        kernels.push_back(
            {layer->name, arrays.front()->shape, layer->tensors.front().second.sizes().vec()});
    }
    return kernels;
}

/// A stored array in the model's torch layout: Theano's kernels made TensorFlow's first (as
/// Keras 2's preprocess_weights_for_loading does: transpose, then convert_kernel's flip), and
/// the (C, H, W) rows of the dense layer after Flatten put in ConvScope's (H, W, C) order
/// (Keras's convert_dense_weights_data_format to channels_last).
torch::Tensor fromFile(torch::Tensor k, const ModelLayer& layer, const std::string& name,
                       const ResolvedKernelLayout& layout, const FlattenInput& flatten) {
    if (layer.kind == LayerKind::Conv && name == "kernel:0" && k.dim() == 4) {
        if (layout.outInHw)
            k = k.permute({2, 3, 1, 0});
        if (layout.flipped)
            k = k.flip({0, 1});
    }
    const std::int64_t c = flatten.channels, side = flatten.side;
    if (layout.channelsFirstFlatten && &layer == flatten.dense && name == "kernel:0" &&
        k.dim() == 2 && side > 1 && k.size(0) == c * side * side)
        k = k.reshape({c, side, side, k.size(1)})
                .permute({1, 2, 0, 3})
                .reshape({c * side * side, k.size(1)});
    return fromKeras(k, layer.kind, name);
}

/// Converts and checks every pair first, so that a mismatch leaves the model untouched.
void assign(const Pairs& pairs, const std::vector<ModelLayer>& layers, const KerasWeightsFile& file,
            KernelLayout asked, const std::string& path, LoadReport& report) {
    const ResolvedKernelLayout layout =
        resolveKernelLayout(file.kerasVersion, file.backend, convKernels(pairs), asked, path);
    if (!layout.note.empty())
        report.notes.push_back(layout.note);
    const FlattenInput flatten = flattenInputOf(layers);
    std::vector<std::pair<torch::Tensor, torch::Tensor>> assignments;
    std::vector<std::string> problems;
    for (const auto& [layer, weights] : pairs) {
        if (weights->weights.size() != layer->tensors.size()) {
            problems.push_back(layer->name + ": " + std::to_string(weights->weights.size()) +
                               " arrays in the file, " + std::to_string(layer->tensors.size()) +
                               " in the model");
            continue;
        }
        const auto arrays = arraysInModelOrder(*layer, *weights);
        for (std::size_t k = 0; k < layer->tensors.size(); ++k) {
            const WeightArray& a = *arrays[k];
            const auto& [name, target] = layer->tensors[k];
            std::int64_t count = 1;
            for (auto d : a.shape)
                count *= d;
            if (count != std::int64_t(a.values.size())) {
                problems.push_back(layer->name + "/" + a.name + ": damaged array");
                continue;
            }
            const torch::Tensor stored =
                torch::from_blob(const_cast<float*>(a.values.data()), a.shape, torch::kFloat32);
            const torch::Tensor converted = fromFile(stored, *layer, name, layout, flatten);
            if (converted.sizes() != target.sizes()) {
                problems.push_back(layer->name + "/" + name + ": file " +
                                   shapeText(stored.sizes().vec()) + ", model expects " +
                                   shapeText(toKeras(target, layer->kind, name).sizes().vec()));
                continue;
            }
            assignments.emplace_back(target, converted.clone());
        }
        report.loaded.push_back(layer->name);
    }
    if (!problems.empty()) {
        std::string text = "shape mismatch, nothing loaded: ";
        for (std::size_t i = 0; i < problems.size(); ++i)
            text += (i ? "; " : "") + problems[i];
        throw Error(path, text);
    }
    torch::NoGradGuard noGrad;
    for (auto& [target, value] : assignments)
        target.copy_(value.to(target.device()));
}

}  // namespace

std::string describe(const LoadReport& r) {
    auto list = [](const std::vector<std::string>& v) {
        std::string s;
        for (std::size_t i = 0; i < v.size() && i < 8; ++i)
            s += (i ? ", " : "") + v[i];
        if (v.size() > 8)
            s += ", ... (" + std::to_string(v.size()) + " in all)";
        return s;
    };
    std::string out = "Loaded " + std::to_string(r.loaded.size()) + " layers";
    if (!r.notInModel.empty())
        out += "; skipped " + std::to_string(r.notInModel.size()) +
               " not in this model: " + list(r.notInModel);
    if (!r.mismatched.empty())
        out += "; skipped " + std::to_string(r.mismatched.size()) +
               " whose shapes differ (a new head): " + list(r.mismatched);
    if (!r.notInFile.empty())
        out += "; kept " + std::to_string(r.notInFile.size()) +
               " not in the file as initialised: " + list(r.notInFile);
    for (const std::string& note : r.notes)
        out += "; " + note;
    return out;
}

void saveModelWeights(const std::string& path, ClassifierImpl& model,
                      const WeightsMetadata& metadata) {
    atBoundary(path, [&] {
        KerasWeightsFile file;
        torch::NoGradGuard noGrad;
        auto* keras = dynamic_cast<KerasClassifierImpl*>(&model);
        if (keras)
            file.layers = keras->kerasWeights();
        for (const ModelLayer& layer : keras ? std::vector<ModelLayer>{} : layersOf(model)) {
            LayerWeights lw;
            lw.name = layer.name;
            for (const auto& [name, tensor] : layer.tensors) {
                const torch::Tensor k =
                    toKeras(tensor.detach().to(torch::kCPU, torch::kFloat32), layer.kind, name)
                        .contiguous();
                WeightArray a;
                a.name = name;
                a.shape.assign(k.sizes().begin(), k.sizes().end());
                a.values.assign(k.data_ptr<float>(), k.data_ptr<float>() + k.numel());
                lw.weights.push_back(std::move(a));
            }
            file.layers.push_back(std::move(lw));
        }
        file.metadata[kMetadataKey] = metadataJson(metadata);
        writeKerasWeights(path, file);
    });
}

std::optional<WeightsMetadata> readWeightsMetadata(const std::string& path) {
    return atBoundary(path, [&] { return metadataOf(readKerasWeights(path, false), path); });
}

std::optional<WeightsMetadata> metadataOf(const KerasWeightsFile& file, const std::string& path) {
    const auto it = file.metadata.find(kMetadataKey);
    if (it == file.metadata.end())
        return std::nullopt;
    return metadataFromJson(it->second, path);
}

LoadReport loadModelWeights(const std::string& path, ClassifierImpl& model, bool byName,
                            KernelLayout layout) {
    return atBoundary(path, [&] {
        return loadModelWeights(readKerasWeights(path), path, model, byName, layout);
    });
}

LoadReport loadModelWeights(const KerasWeightsFile& file, const std::string& path,
                            ClassifierImpl& model, bool byName, KernelLayout layout) {
    LoadReport report;
    report.metadata = metadataOf(file, path);
    if (auto* keras = dynamic_cast<KerasClassifierImpl*>(&model)) {
        // Keras networks match by name; loading in order would need Keras's own rules for
        // which layers count.
        LoadReport loaded = keras->loadKerasWeights(file, path);
        if (loaded.loaded.empty())
            throw Error(path, "no layer of this file matches the model (wrong architecture?)");
        loaded.metadata = std::move(report.metadata);
        return loaded;
    }

    const std::vector<ModelLayer> layers = layersOf(model);
    std::vector<const LayerWeights*> fileLayers;
    for (const auto& l : file.layers)
        if (!l.weights.empty())
            fileLayers.push_back(&l);

    Pairs pairs;
    if (byName)
        pairs = pairByName(layers, fileLayers, report, {});
    // Keras's own load_weights matches in order unless asked otherwise; a Keras file none of
    // whose names match, or a Keras 1 file (its names are Keras 1's automatic ones:
    // convolution2d_1 for conv2d, dense_1 and dense_2 for dense and dense_1) whose names do
    // not pair every layer, is loaded that way when the numbers of layers with weights agree.
    const bool partial = pairs.size() < layers.size() || pairs.size() < fileLayers.size();
    if (byName && !report.metadata && !fileLayers.empty() && fileLayers.size() == layers.size() &&
        (pairs.empty() || (partial && isKerasOneVersion(file.kerasVersion)))) {
        pairs.clear();
        byName = false;
        report.notInFile.clear();
        report.notInModel.clear();
        report.notes.push_back(
            "no layer name matched: loaded in order, as Keras's load_weights "
            "does (" +
            fileLayers.front()->name + " into " + layers.front().name + ", ...)");
    }
    if (!byName) {
        if (fileLayers.size() != layers.size()) {
            throw Error(path, "has " + std::to_string(fileLayers.size()) +
                                  " layers with weights, the model " +
                                  std::to_string(layers.size()) +
                                  " (load by name to match what can be matched)");
        }
        for (std::size_t i = 0; i < layers.size(); ++i)
            pairs.emplace_back(&layers[i], fileLayers[i]);
    }
    if (pairs.empty())
        throw Error(path, "no layer of this file matches the model (wrong architecture?)");
    assign(pairs, layers, file, layout, path, report);
    return report;
}

LoadReport loadBackboneWeights(const KerasWeightsFile& file, const std::string& source,
                               ClassifierImpl& model, KernelLayout layout) {
    if (auto* keras = dynamic_cast<KerasClassifierImpl*>(&model)) {
        LoadReport loaded = keras->loadKerasWeights(file, source);
        if (loaded.loaded.empty())
            throw Error(source, "no layer of this file matches the model (wrong architecture?)");
        return loaded;
    }
    LoadReport report;
    const std::vector<ModelLayer> layers = layersOf(model);
    std::set<std::string> head;
    for (const ModelLayer& layer : layers)
        if (layer.kind == LayerKind::Dense)
            head.insert(layer.name);
    std::vector<const LayerWeights*> fileLayers;
    for (const auto& l : file.layers)
        if (!l.weights.empty())
            fileLayers.push_back(&l);
    const Pairs pairs = pairByName(layers, fileLayers, report, head);
    std::vector<std::string> missing;
    for (const std::string& name : report.notInFile)
        if (!head.count(name))
            missing.push_back(name);
    if (pairs.empty())
        throw Error(source, "no layer of this file matches the model (wrong architecture?)");
    if (!missing.empty()) {
        std::string text;
        for (std::size_t i = 0; i < missing.size() && i < 8; ++i)
            text += (i ? ", " : "") + missing[i];
        if (missing.size() > 8)
            text += ", ... (" + std::to_string(missing.size()) + " in all)";
        throw Error(source, "lacks " + std::to_string(missing.size()) +
                                " backbone layers of the model, nothing loaded: " + text);
    }
    assign(pairs, layers, file, layout, source, report);
    return report;
}

}  // namespace convscope
