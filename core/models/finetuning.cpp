#include "models/finetuning.h"

namespace convscope {

std::string backboneOutputLayer(const ModelConfig& model) {
    if (model.head == Head::Flatten)
        return "flatten";
    const bool kerasNamed = model.architecture == Architecture::SmallConvNet ||
                            model.architecture == Architecture::Vgg16;
    return kerasNamed ? "global_average_pooling2d" : "avgpool";
}

std::string lastBlockFreezePoint(Architecture architecture) {
    switch (architecture) {
        case Architecture::SmallConvNet:
            return "max_pooling2d_1";
        case Architecture::Vgg16:
            return "block4_pool";
        case Architecture::ResNet18:
            return "layer3";
        case Architecture::MobileNetV2:
            return "features.13";
    }
    return {};
}

std::string lastBlockName(Architecture architecture) {
    switch (architecture) {
        case Architecture::SmallConvNet:
            return "conv2d_2";
        case Architecture::Vgg16:
            return "block5";
        case Architecture::ResNet18:
            return "layer4";
        case Architecture::MobileNetV2:
            return "features.14-18";
    }
    return {};
}

}  // namespace convscope
