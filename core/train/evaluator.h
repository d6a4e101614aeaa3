#pragma once

#include "models/classifier.h"
#include "train/evaluation.h"

#include <torch/types.h>

#include <atomic>

namespace convscope {

class BatchLoader;

/// Runs `model` in eval mode without gradients over one epoch of `loader` (which should not
/// augment or shuffle) and tallies loss and confusion. Stops early when `cancel` is set.
Evaluation evaluateModel(ClassifierImpl& model, BatchLoader& loader, const torch::Device& device,
                         bool channelsLast, const std::atomic<bool>* cancel = nullptr);

}  // namespace convscope
