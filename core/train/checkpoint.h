#pragma once

#include "models/classifier.h"
#include "train/trainingobserver.h"

#include <torch/optim/optimizer.h>

#include <limits>
#include <string>
#include <vector>

namespace convscope {

/// Everything besides weights and optimizer moments that a resumed run needs to continue
/// on the same curve.
struct TrainingState {
    int epochsCompleted = 0;
    double learningRate = 0;
    double bestValidationLoss = std::numeric_limits<double>::infinity();
    int epochsSinceBest = 0;
    std::vector<EpochEnd> history;
};

/// Writes weights, buffers, optimizer state, the global RNG state and `state` atomically.
/// Throws convscope::Error naming the file.
void saveCheckpoint(const std::string& path, ClassifierImpl& model,
                    torch::optim::Optimizer& optimizer, const TrainingState& state);

/// Restores what saveCheckpoint wrote into a model and optimizer built the same way.
/// Throws convscope::Error naming the file when it is missing, damaged or does not match.
TrainingState loadCheckpoint(const std::string& path, ClassifierImpl& model,
                             torch::optim::Optimizer& optimizer);

}  // namespace convscope
