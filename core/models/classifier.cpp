#include "models/classifier.h"

#include "error.h"
#include "models/architectures.h"
#include "models/kerasclassifier.h"
#include "util/enumnames.h"

#include <torch/torch.h>

#include <cstring>
#include <map>

namespace convscope {

namespace {

bool hasPrefix(const std::string& name, const std::string& prefix) {
    return name.size() > prefix.size() && name.compare(0, prefix.size(), prefix) == 0 &&
           name[prefix.size()] == '.';
}

std::string kindOf(const std::string& layer, const torch::nn::Module* module) {
    if (module) {
        const std::string type = module->name();
        if (type.find("Conv2d") != std::string::npos)
            return "Conv2D";
        if (type.find("Linear") != std::string::npos)
            return "Dense";
        if (type.find("BatchNorm") != std::string::npos)
            return "BatchNorm";
        if (type.find("Dropout") != std::string::npos)
            return "Dropout";
        return "Block";
    }
    auto endsWith = [&](const char* suffix) {
        const std::size_t n = std::strlen(suffix);
        return layer.size() > n && layer.compare(layer.size() - n, n, suffix) == 0;
    };
    if (endsWith("_relu"))
        return "ReLU";
    if (endsWith("_pad"))
        return "ZeroPadding2D";
    if (endsWith("_add"))
        return "Add";
    if (layer.find("global_average") != std::string::npos || layer == "avgpool")
        return "GlobalAvgPool";
    if (layer.find("pool") != std::string::npos)
        return "MaxPool2D";
    if (layer == "flatten")
        return "Flatten";
    if (layer == "dropout")
        return "Dropout";
    return "Op";
}

}  // namespace

namespace {

const EnumName<Architecture> kArchitectures[] = {{Architecture::SmallConvNet, "small"},
                                                 {Architecture::Vgg16, "vgg16"},
                                                 {Architecture::ResNet18, "resnet18"},
                                                 {Architecture::MobileNetV2, "mobilenetv2"},
                                                 {Architecture::Keras, "keras"}};
const EnumName<Head> kHeads[] = {
    {Head::Flatten, "flatten"}, {Head::GlobalAveragePool, "gap"}, {Head::Original, "original"}};
const EnumName<Flavour> kFlavours[] = {{Flavour::Standard, "standard"}, {Flavour::Keras, "keras"}};

}  // namespace

const char* architectureName(Architecture a) {
    return enumName(a, kArchitectures);
}

Architecture parseArchitecture(const std::string& name) {
    return parseEnum(name, kArchitectures, "architecture");
}

const char* headName(Head h) {
    return enumName(h, kHeads);
}

Head parseHead(const std::string& name) {
    return parseEnum(name, kHeads, "head");
}

const char* flavourName(Flavour f) {
    return enumName(f, kFlavours);
}

Flavour parseFlavour(const std::string& name) {
    return parseEnum(name, kFlavours, "flavour");
}

std::vector<LayerInfo> ClassifierImpl::summary() {
    std::vector<LayerInfo> layers;
    const LayerTap tap = [&](const std::string& name, const torch::Tensor& out) {
        LayerInfo info;
        info.name = name;
        const auto sizes = out.sizes();
        info.outputShape.assign(sizes.begin() + 1, sizes.end());
        layers.push_back(std::move(info));
    };
    const bool wasTraining = is_training();
    {
        torch::NoGradGuard noGrad;
        eval();
        forward(torch::zeros({1, 3, m_config.inputSize, m_config.inputSize}), &tap);
    }
    train(wasTraining);

    const auto modules = named_modules("", false);
    std::map<std::string, const torch::nn::Module*> byName;
    for (const auto& item : modules)
        byName[item.key()] = item.value().get();
    const auto params = named_parameters(true);
    for (auto& layer : layers) {
        const auto it = byName.find(layer.name);
        layer.kind = kindOf(layer.name, it == byName.end() ? nullptr : it->second);
        bool anyTrainable = false, any = false;
        for (const auto& p : params) {
            if (p.key() == layer.name || hasPrefix(p.key(), layer.name)) {
                layer.parameters += p.value().numel();
                any = true;
                anyTrainable = anyTrainable || p.value().requires_grad();
            }
        }
        layer.trainable = !any || anyTrainable;
    }
    return layers;
}

std::vector<std::string> ClassifierImpl::layerNames() {
    std::vector<std::string> names;
    for (const auto& layer : summary())
        names.push_back(layer.name);
    return names;
}

void ClassifierImpl::freezeUpTo(const std::string& layer) {
    std::set<std::string> prefixes;
    if (!layer.empty()) {
        bool found = false;
        for (const auto& name : layerNames()) {
            prefixes.insert(name);
            if (name == layer) {
                found = true;
                break;
            }
        }
        if (!found)
            throw Error(layer, "no such layer in this model (see `convscope summary`)");
    }
    m_frozenPrefixes = prefixes;
    m_frozenUpTo = layer;
    for (auto& p : named_parameters(true)) {
        bool frozen = false;
        for (const auto& prefix : m_frozenPrefixes)
            frozen = frozen || hasPrefix(p.key(), prefix);
        p.value().set_requires_grad(!frozen);
    }
    train(is_training());
}

void ClassifierImpl::setBatchNormInference(bool on) {
    m_batchNormInference = on;
    train(is_training());
}

void ClassifierImpl::train(bool on) {
    torch::nn::Module::train(on);
    if (!on || (m_frozenPrefixes.empty() && !m_batchNormInference))
        return;
    for (const auto& item : named_modules("", false)) {
        if (item.value()->name().find("BatchNorm") == std::string::npos)
            continue;
        if (m_batchNormInference) {
            item.value()->eval();
            continue;
        }
        for (const auto& prefix : m_frozenPrefixes) {
            if (item.key() == prefix || hasPrefix(item.key(), prefix)) {
                item.value()->eval();
                break;
            }
        }
    }
}

namespace {

Classifier buildClassifier(const ModelConfig& config);

}  // namespace

Classifier makeClassifier(const ModelConfig& config) {
    if (config.batchNormMomentum < 0 || config.batchNormMomentum >= 1)
        throw Error("model", "batch norm momentum " + std::to_string(config.batchNormMomentum) +
                                 ": must be in (0, 1), as Keras's (e.g. 0.99)");
    Classifier model = buildClassifier(config);
    if (config.batchNormMomentum > 0)
        for (const auto& module : model->modules(/*include_self=*/false))
            if (auto* bn = dynamic_cast<torch::nn::BatchNorm2dImpl*>(module.get()))
                bn->options.momentum(1.0 - config.batchNormMomentum);  // torch's terms
    return model;
}

namespace {

Classifier buildClassifier(const ModelConfig& config) {
    if (config.classCount < 1)
        throw Error("model", "needs at least one class");
    if (config.inputSize < 8 || config.inputSize > kMaxInputSize)
        throw Error("model", "input size " + std::to_string(config.inputSize) + ": must be 8 to " +
                                 std::to_string(kMaxInputSize) + " pixels");
    if (config.flavour == Flavour::Keras && config.architecture == Architecture::ResNet18)
        throw Error("resnet18", "has no Keras flavour (ResNet-18 is not a Keras application)");
    try {
        switch (config.architecture) {
            case Architecture::SmallConvNet:
                return makeSmallConvNet(config);
            case Architecture::Vgg16:
                return makeVgg16(config);
            case Architecture::ResNet18:
                return makeResNet18(config);
            case Architecture::MobileNetV2:
                return config.flavour == Flavour::Keras ? makeKerasMobileNetV2(config)
                                                        : makeMobileNetV2(config);
            case Architecture::Keras:
                return std::make_shared<KerasClassifierImpl>(config);
        }
    } catch (const c10::Error& e) {
        throw Error(architectureName(config.architecture),
                    "cannot build for input size " + std::to_string(config.inputSize) + ": " +
                        readableReason(e.what_without_backtrace()));
    }
    throw Error("model", "unknown architecture");
}

}  // namespace

std::vector<LayerInfo> describeLayers(const ModelConfig& config) {
    return atBoundary("model", [&] { return makeClassifier(config)->summary(); });
}

Classifier cloneClassifier(const Classifier& model) {
    Classifier copy = makeClassifier(model->config());
    torch::NoGradGuard noGrad;
    auto src = model->named_parameters(true);
    for (auto& p : copy->named_parameters(true))
        p.value().copy_(src[p.key()]);
    auto srcBuffers = model->named_buffers(true);
    for (auto& b : copy->named_buffers(true))
        b.value().copy_(srcBuffers[b.key()]);
    copy->freezeUpTo(model->frozenUpTo());
    copy->setBatchNormInference(model->batchNormInference());
    copy->train(model->is_training());
    return copy;
}

}  // namespace convscope
