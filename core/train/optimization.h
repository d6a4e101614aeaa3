#pragma once

#include "train/checkpoint.h"
#include "train/trainconfig.h"

#include <torch/types.h>

#include <memory>
#include <vector>

namespace torch::optim {
class Optimizer;
}

namespace convscope {

/// The optimizer `config` names (SGD with momentum and Nesterov, Adam, or RMSprop with Keras's
/// rho 0.9 and epsilon 1e-7), with its learning rate and weight decay, over `parameters`.
std::unique_ptr<torch::optim::Optimizer> makeOptimizer(const TrainConfig& config,
                                                       std::vector<torch::Tensor> parameters);

/// The learning rate of `epoch` (counted from 0) under the configuration's schedule:
/// constant, step (times gamma every stepEpochs), cosine (half a cosine over the run), or
/// plateau (the rate `state` carries, cut by recordValidationLoss).
double scheduledLearningRate(const TrainConfig& config, int epoch, const TrainingState& state);

/// Records an epoch's validation loss in `state`, trained at `learningRate`: the best loss so
/// far, the epochs since it, and under the plateau schedule the rate cut by plateauFactor
/// after every plateauPatience epochs without improvement. True when early stopping ends
/// the run.
bool recordValidationLoss(const TrainConfig& config, double learningRate, double validationLoss,
                          TrainingState& state);

}  // namespace convscope
