#pragma once

// Small helpers for the core tests that build, save and compare models (LibTorch tests only).

#include "io/weightsmetadata.h"
#include "models/classifier.h"

#include <torch/torch.h>

#include <string>

namespace convscope::test {

/// Metadata naming the classes "class0", "class1", ... of `c`.
inline WeightsMetadata metadataFor(const ModelConfig& c) {
    WeightsMetadata m;
    m.model = c;
    for (int i = 0; i < c.classCount; ++i)
        m.classNames.push_back("class" + std::to_string(i));
    return m;
}

/// The model's logits in evaluation mode, without gradients.
inline torch::Tensor logits(ClassifierImpl& model, const torch::Tensor& x) {
    model.eval();
    torch::NoGradGuard noGrad;
    return model.forward(x);
}

}  // namespace convscope::test
