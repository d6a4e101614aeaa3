#include "io/torchvisionweights.h"

#include "error.h"
#include "util/text.h"

#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <map>
#include <set>

namespace convscope {

namespace {

/// Positions of VGG16's convolutions in torchvision's `features` Sequential (ReLUs and pools
/// sit between them), in Keras's block order.
constexpr int kVggConvIndices[13] = {0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28};
constexpr int kVggBlockDepths[5] = {2, 2, 3, 3, 3};
constexpr const char* kVggClassifier[3][2] = {
    {"classifier.0", "fc1"}, {"classifier.3", "fc2"}, {"classifier.6", "predictions"}};

std::string layerOf(const std::string& tensorName) {
    const auto dot = tensorName.rfind('.');
    return dot == std::string::npos ? tensorName : tensorName.substr(0, dot);
}

bool has(const TorchStateDict& d, const std::string& name) {
    return d.find(name) != nullptr;
}

bool isHead(Architecture a, const std::string& layer) {
    switch (a) {
        case Architecture::Vgg16:
            return layer == "fc1" || layer == "fc2" || layer == "predictions";
        case Architecture::ResNet18:
            return layer == "fc";
        case Architecture::MobileNetV2:
            return layer == "classifier.1";
        case Architecture::SmallConvNet:
        case Architecture::Keras:
            return false;
    }
    return false;
}

std::string torchvisionName(Architecture a) {
    return a == Architecture::MobileNetV2 ? "mobilenet_v2" : architectureName(a);
}

/// torchvision's VGG16 flattens (C, H, W); ConvScope's, like Keras's, (H, W, C). Reorders the
/// columns of fc1's (out, C*H*W) weight to (out, H*W*C).
torch::Tensor toKerasFlattenOrder(const torch::Tensor& w) {
    const std::int64_t channels = 512;
    const auto side = std::int64_t(std::lround(std::sqrt(double(w.size(1) / channels))));
    if (side * side * channels != w.size(1))
        return w;
    return w.reshape({w.size(0), channels, side, side})
        .permute({0, 2, 3, 1})
        .reshape({w.size(0), -1})
        .contiguous();
}

}  // namespace

std::optional<Architecture> torchvisionArchitecture(const TorchStateDict& d) {
    if (has(d, "conv1.weight") && has(d, "layer4.1.conv2.weight") && has(d, "fc.weight") &&
        !has(d, "layer1.2.conv1.weight") && !has(d, "layer1.0.conv3.weight"))
        return Architecture::ResNet18;
    if (has(d, "features.0.0.weight") && has(d, "features.1.conv.0.0.weight") &&
        has(d, "features.18.0.weight") && !has(d, "features.19.0.weight") &&
        has(d, "classifier.1.weight"))
        return Architecture::MobileNetV2;
    std::set<int> convs;
    for (const auto& t : d.tensors) {
        int index = -1;
        char rest[16] = {};
        if (std::sscanf(t.name.c_str(), "features.%d.%15s", &index, rest) == 2 &&
            std::string(rest) == "weight")
            convs.insert(index);
    }
    if (convs == std::set<int>(std::begin(kVggConvIndices), std::end(kVggConvIndices)) &&
        has(d, "classifier.6.weight"))
        return Architecture::Vgg16;
    return std::nullopt;
}

ModelConfig torchvisionModelConfig(const TorchStateDict& dict, const std::string& path) {
    const auto arch = torchvisionArchitecture(dict);
    if (!arch) {
        std::string keys;
        for (std::size_t i = 0; i < dict.tensors.size() && i < 4; ++i)
            keys += (i ? ", " : "") + dict.tensors[i].name;
        throw Error(path,
                    "not a state_dict of torchvision's vgg16, resnet18 or mobilenet_v2 "
                    "(keys: " +
                        keys + ", ...)");
    }
    ModelConfig c;
    c.architecture = *arch;
    c.head = *arch == Architecture::Vgg16 ? Head::Original : Head::GlobalAveragePool;
    c.inputSize = 224;
    const char* last = *arch == Architecture::Vgg16      ? "classifier.6.weight"
                       : *arch == Architecture::ResNet18 ? "fc.weight"
                                                         : "classifier.1.weight";
    const TorchTensorEntry* head = dict.find(last);
    if (!head || head->shape.size() != 2 || head->shape[0] < 1)
        throw Error(path, std::string(last) + " is not a (classes, features) matrix");
    c.classCount = int(head->shape[0]);
    return c;
}

std::string convscopeTensorName(Architecture a, const std::string& name) {
    if (a != Architecture::Vgg16)
        return name;
    const std::string layer = layerOf(name);
    const std::string leaf = name.substr(layer.size());
    int position = 0;
    for (int block = 0; block < 5; ++block) {
        for (int i = 0; i < kVggBlockDepths[block]; ++i, ++position) {
            if (layer == "features." + std::to_string(kVggConvIndices[position]))
                return "block" + std::to_string(block + 1) + "_conv" + std::to_string(i + 1) + leaf;
        }
    }
    for (const auto& [from, to] : kVggClassifier)
        if (layer == from)
            return to + leaf;
    return name;
}

LoadReport loadTorchvisionWeights(const TorchStateDict& dict, ClassifierImpl& model,
                                  const std::string& path) {
    const Architecture arch = model.config().architecture;
    const Architecture fileArch = torchvisionModelConfig(dict, path).architecture;
    if (fileArch != arch)
        throw Error(path, "holds torchvision " + torchvisionName(fileArch) +
                              " weights; the model is a " + architectureName(arch));

    std::map<std::string, torch::Tensor> targets;
    std::map<std::string, std::vector<std::string>> modelLayers;  // layer -> its tensor names
    std::vector<std::string> modelLayerOrder;
    auto addTarget = [&](const std::string& name, const torch::Tensor& t) {
        targets[name] = t;
        const std::string layer = layerOf(name);
        if (!modelLayers.count(layer))
            modelLayerOrder.push_back(layer);
        modelLayers[layer].push_back(name);
    };
    for (const auto& p : model.named_parameters(true))
        addTarget(p.key(), p.value());
    for (const auto& b : model.named_buffers(true))
        addTarget(b.key(), b.value());

    // The file's tensors by ConvScope layer, in file order.
    std::vector<std::string> fileLayerOrder;
    std::map<std::string, std::vector<std::pair<std::string, const TorchTensorEntry*>>> fileLayers;
    for (const auto& t : dict.tensors) {
        const std::string name = convscopeTensorName(arch, t.name);
        const std::string layer = layerOf(name);
        if (!fileLayers.count(layer))
            fileLayerOrder.push_back(layer);
        fileLayers[layer].emplace_back(name, &t);
    }

    LoadReport report;
    std::vector<std::string> problems;
    std::vector<std::pair<torch::Tensor, torch::Tensor>> assignments;
    std::set<std::string> handled;
    for (const std::string& layer : fileLayerOrder) {
        if (!modelLayers.count(layer)) {
            report.notInModel.push_back(layer);
            continue;
        }
        handled.insert(layer);
        std::vector<std::pair<torch::Tensor, torch::Tensor>> layerAssignments;
        std::string mismatch;
        for (const auto& [name, entry] : fileLayers[layer]) {
            const auto target = targets.find(name);
            if (target == targets.end()) {
                problems.push_back(name + ": not in the model");
                continue;
            }
            if (!entry->value.defined())
                throw Error(path, "was read without its values");
            torch::Tensor value = entry->value;
            if (arch == Architecture::Vgg16 && name == "fc1.weight" && value.dim() == 2)
                value = toKerasFlattenOrder(value);
            if (value.sizes() != target->second.sizes()) {
                if (mismatch.empty())
                    mismatch = name + ": file " + shapeText(entry->value.sizes().vec()) +
                               ", model " + shapeText(target->second.sizes().vec());
                continue;
            }
            layerAssignments.emplace_back(target->second, value);
        }
        if (!mismatch.empty()) {
            if (isHead(arch, layer))
                report.mismatched.push_back(mismatch);
            else
                problems.push_back(mismatch);
            continue;
        }
        if (fileLayers[layer].size() < modelLayers[layer].size()) {
            for (const auto& name : modelLayers[layer]) {
                bool inFile = false;
                for (const auto& entry : fileLayers[layer])
                    inFile = inFile || entry.first == name;
                if (!inFile)
                    problems.push_back(name + ": missing from the file");
            }
            continue;
        }
        assignments.insert(assignments.end(), layerAssignments.begin(), layerAssignments.end());
        report.loaded.push_back(layer);
    }
    if (!problems.empty()) {
        std::string text =
            "does not fit the " + std::string(architectureName(arch)) + " model, nothing loaded: ";
        for (std::size_t i = 0; i < problems.size() && i < 8; ++i)
            text += (i ? "; " : "") + problems[i];
        if (problems.size() > 8)
            text += "; ... (" + std::to_string(problems.size()) + " in all)";
        throw Error(path, text);
    }
    if (report.loaded.empty())
        throw Error(path, "no layer of this file matches the model");
    for (const std::string& layer : modelLayerOrder)
        if (!handled.count(layer))
            report.notInFile.push_back(layer);

    torch::NoGradGuard noGrad;
    for (auto& [target, value] : assignments)
        target.copy_(value.to(target.device(), target.scalar_type()));
    return report;
}

}  // namespace convscope
