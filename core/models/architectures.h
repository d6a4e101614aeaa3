#pragma once

#include "models/classifier.h"

namespace convscope {

// One factory per architecture; makeClassifier() picks among them.
Classifier makeSmallConvNet(const ModelConfig& config);
Classifier makeVgg16(const ModelConfig& config);
Classifier makeResNet18(const ModelConfig& config);
Classifier makeMobileNetV2(const ModelConfig& config);

}  // namespace convscope
