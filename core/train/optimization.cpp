#include "train/optimization.h"

#include "error.h"
#include "train/fusedrmsprop.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

namespace convscope {

std::unique_ptr<torch::optim::Optimizer> makeOptimizer(const TrainConfig& c,
                                                       std::vector<torch::Tensor> params) {
    switch (c.optimizer) {
        case OptimizerKind::Sgd:
            return std::make_unique<torch::optim::SGD>(params,
                                                       torch::optim::SGDOptions(c.learningRate)
                                                           .momentum(c.momentum)
                                                           .nesterov(c.nesterov)
                                                           .weight_decay(c.weightDecay));
        case OptimizerKind::Adam:
            return std::make_unique<torch::optim::Adam>(
                params, torch::optim::AdamOptions(c.learningRate).weight_decay(c.weightDecay));
        case OptimizerKind::RmsProp:
            // Keras's RMSprop defaults (rho 0.9, epsilon 1e-7), which the Keras blog recipe uses.
            // One pass over each parameter where it can (FusedRmsProp), LibTorch's step elsewhere.
            return std::make_unique<FusedRmsProp>(
                params, torch::optim::RMSpropOptions(c.learningRate)
                            .alpha(0.9)
                            .eps(1e-7)
                            .weight_decay(c.weightDecay));
    }
    throw Error("optimizer", "unknown");
}

double scheduledLearningRate(const TrainConfig& c, int epoch, const TrainingState& state) {
    switch (c.schedule) {
        case Schedule::Constant:
            return c.learningRate;
        case Schedule::Step:
            return c.learningRate * std::pow(c.stepGamma, epoch / std::max(1, c.stepEpochs));
        case Schedule::Cosine:
            return c.learningRate * 0.5 *
                   (1 + std::cos(3.14159265358979323846 * epoch / std::max(1, c.epochs)));
        case Schedule::Plateau:
            return state.learningRate > 0 ? state.learningRate : c.learningRate;
    }
    return c.learningRate;
}

bool recordValidationLoss(const TrainConfig& c, double learningRate, double validationLoss,
                          TrainingState& state) {
    state.learningRate = learningRate;
    if (validationLoss < state.bestValidationLoss - 1e-9) {
        state.bestValidationLoss = validationLoss;
        state.epochsSinceBest = 0;
    } else {
        ++state.epochsSinceBest;
        if (c.schedule == Schedule::Plateau && state.epochsSinceBest > 0 &&
            state.epochsSinceBest % std::max(1, c.plateauPatience) == 0)
            state.learningRate = learningRate * c.plateauFactor;
    }
    return c.earlyStoppingPatience > 0 && state.epochsSinceBest >= c.earlyStoppingPatience;
}

}  // namespace convscope
