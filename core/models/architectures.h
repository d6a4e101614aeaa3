#pragma once

#include "models/classifier.h"

namespace convscope {

// One factory per architecture; makeClassifier() picks among them.
Classifier makeSmallConvNet(const ModelConfig& config);
Classifier makeVgg16(const ModelConfig& config);
Classifier makeResNet18(const ModelConfig& config);
Classifier makeMobileNetV2(const ModelConfig& config);
/// Keras Applications' MobileNetV2 (alpha 1.0) with Keras's layer names and arithmetic.
Classifier makeKerasMobileNetV2(const ModelConfig& config);

}  // namespace convscope
