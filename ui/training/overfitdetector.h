#pragma once

#include "train/trainingobserver.h"

#include <QString>

#include <vector>

namespace convscope::ui {

/// Which gap between the training and validation curves: training minus validation
/// accuracy, or validation minus training loss.
enum class GapMetric { Accuracy, Loss };

/// When a growing gap counts as overfitting. A gap below zero (validation doing better than
/// training) counts as zero. The gap "grows" at an epoch when it is larger than at the epoch
/// before, within one training phase. The warning fires at an epoch where
/// the gap has grown at each of the last `growingEpochs` epochs and is now above the metric's
/// threshold (`accuracyGap` for accuracy, `lossGap` for loss).
struct OverfitRule {
    int growingEpochs = 3;
    double accuracyGap = 0.05;  ///< 5 percentage points
    double lossGap = 0.10;      ///< cross-entropy, nats
};

/// The latest stretch of epochs where the rule fired.
struct OverfitWarning {
    bool found = false;
    GapMetric metric = GapMetric::Accuracy;
    int sinceEpoch = 0;  ///< the epoch the gap started growing from (its smallest value)
    int lastEpoch = 0;   ///< the last epoch of that stretch
    double gap = 0;      ///< the gap at lastEpoch
};

/// The overfitting rule of the training charts, as plain arithmetic on the per-epoch figures
/// (no tensors). See OverfitRule; docs/user-guide.md ("Learning as you go") states it too.
class OverfitDetector {
public:
    /// The gap at `epoch`, never below zero.
    static double gap(const convscope::EpochEnd& epoch, GapMetric metric);
    /// Scans `epochs` in order; the latest stretch where the rule fired, or found == false.
    static OverfitWarning detect(const std::vector<convscope::EpochEnd>& epochs, GapMetric metric,
                                 const OverfitRule& rule = {});
    /// The warning in words for the charts (either may be not found; empty when neither is).
    static QString describe(const OverfitWarning& accuracy, const OverfitWarning& loss);
};

}  // namespace convscope::ui
