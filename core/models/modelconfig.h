#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace convscope {

enum class Architecture { SmallConvNet, Vgg16, ResNet18, MobileNetV2 };
/// Flatten + dense (the Keras blog's head), global average pooling + dense (CAM-ready), or
/// the head the architecture was published with (VGG16: fc1, fc2, predictions, 4096 wide, as
/// in Keras's and torchvision's VGG16; ResNet-18 and MobileNetV2: pooling + dense, as gap;
/// the small convnet: as flatten).
enum class Head { Flatten, GlobalAveragePool, Original };

/// "small", "vgg16", "resnet18", "mobilenetv2"
const char* architectureName(Architecture a);
/// Throws convscope::Error for an unknown name.
Architecture parseArchitecture(const std::string& name);
const char* headName(Head h);  ///< "flatten", "gap" or "original"
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

}  // namespace convscope
