#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace convscope {

enum class Architecture { SmallConvNet, Vgg16, ResNet18, MobileNetV2 };
/// Flatten + dense (the Keras blog's head), or global average pooling + dense (CAM-ready).
enum class Head { Flatten, GlobalAveragePool };

/// "small", "vgg16", "resnet18", "mobilenetv2"
const char* architectureName(Architecture a);
/// Throws convscope::Error for an unknown name.
Architecture parseArchitecture(const std::string& name);
const char* headName(Head h);  ///< "flatten" or "gap"
Head parseHead(const std::string& name);

struct ModelConfig {
    Architecture architecture = Architecture::SmallConvNet;
    Head head = Head::Flatten;
    int inputSize = 150;  ///< square inputs, inputSize x inputSize RGB
    int classCount = 2;
    double dropout = 0.5;
};

/// One row of a model summary, in forward order.
struct LayerInfo {
    std::string name;  ///< Keras names (block1_conv1) or torchvision module paths (layer1)
    std::string kind;  ///< Conv2D, Dense, BatchNorm, MaxPool, Stage, ...
    std::vector<std::int64_t> outputShape;  ///< without the batch dimension, channels first
    std::int64_t parameters = 0;
    bool trainable = true;
};

/// The layers of a freshly built model of `config` (ClassifierImpl::summary() without
/// torch in the caller's headers). Throws convscope::Error for an invalid configuration.
std::vector<LayerInfo> describeLayers(const ModelConfig& config);

}  // namespace convscope
