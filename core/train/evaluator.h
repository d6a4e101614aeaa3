#pragma once

#include "train/batchloader.h"
#include "models/classifier.h"
#include "train/evaluation.h"
#include "train/trainconfig.h"

#include <torch/types.h>

#include <atomic>

namespace convscope {

/// Adds up an evaluation batch by batch: summed loss, confusion, predictions, truths.
class EvaluationTally {
public:
    explicit EvaluationTally(int classCount);
    /// `logits` [N, classes] on any device; `labels` [N] int64 on the CPU.
    void add(const torch::Tensor& logits, const torch::Tensor& labels);
    /// The result, loss averaged over the samples seen.
    Evaluation finish();

private:
    Evaluation m_evaluation;
    double m_lossSum = 0;
};

/// Runs `model` in eval mode without gradients over one epoch of `loader` (which should not
/// augment or shuffle) and tallies loss and confusion. Stops early when `cancel` is set.
Evaluation evaluateModel(ClassifierImpl& model, BatchLoader& loader, const torch::Device& device,
                         bool channelsLast, const std::atomic<bool>* cancel = nullptr);

}  // namespace convscope
