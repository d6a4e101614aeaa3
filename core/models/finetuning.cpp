#include "models/finetuning.h"

#include "models/kerassurgery.h"

namespace convscope {

std::string backboneOutputLayer(const ModelConfig& model) {
    if (model.architecture == Architecture::Keras)
        return planKerasNetwork(model).features;
    const bool kerasNamed = model.architecture == Architecture::SmallConvNet ||
                            model.architecture == Architecture::Vgg16 ||
                            model.flavour == Flavour::Keras;
    const bool flattens =
        model.head == Head::Flatten ||
        (model.head == Head::Original && (model.architecture == Architecture::SmallConvNet ||
                                          model.architecture == Architecture::Vgg16));
    if (flattens)
        return "flatten";
    return kerasNamed ? "global_average_pooling2d" : "avgpool";
}

std::string lastBlockFreezePoint(const ModelConfig& model) {
    if (model.architecture == Architecture::Keras)
        return planKerasNetwork(model).freezePoint;
    if (model.architecture == Architecture::MobileNetV2 && model.flavour == Flavour::Keras)
        return "block_12_add";
    switch (model.architecture) {
        case Architecture::SmallConvNet:
            return "max_pooling2d_1";
        case Architecture::Vgg16:
            return "block4_pool";
        case Architecture::ResNet18:
            return "layer3";
        case Architecture::MobileNetV2:
            return "features.13";
        case Architecture::Keras:
            break;
    }
    return {};
}

std::string lastBlockName(const ModelConfig& model) {
    if (model.architecture == Architecture::Keras)
        return "the layers after " + planKerasNetwork(model).freezePoint;
    if (model.architecture == Architecture::MobileNetV2 && model.flavour == Flavour::Keras)
        return "block_13-16 and Conv_1";
    switch (model.architecture) {
        case Architecture::SmallConvNet:
            return "conv2d_2";
        case Architecture::Vgg16:
            return "block5";
        case Architecture::ResNet18:
            return "layer4";
        case Architecture::MobileNetV2:
            return "features.14-18";
        case Architecture::Keras:
            break;
    }
    return {};
}

}  // namespace convscope
