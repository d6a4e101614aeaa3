#include "ui/training/overfitdetector.h"

#include <QCoreApplication>

#include <algorithm>

namespace convscope::ui {

double OverfitDetector::gap(const EpochEnd& epoch, GapMetric metric) {
    // Validation doing as well as training or better (dropout and augmentation handicap
    // training) is no gap: it does not start a stretch of growth.
    return std::max(0.0, metric == GapMetric::Accuracy
                             ? epoch.trainAccuracy - epoch.validationAccuracy
                             : epoch.validationLoss - epoch.trainLoss);
}

OverfitWarning OverfitDetector::detect(const std::vector<EpochEnd>& epochs, GapMetric metric,
                                       const OverfitRule& rule) {
    OverfitWarning warning;
    warning.metric = metric;
    const double threshold = metric == GapMetric::Accuracy ? rule.accuracyGap : rule.lossGap;
    std::size_t runStart = 0;  // index of the smallest gap the current growth started from
    for (std::size_t i = 1; i < epochs.size(); ++i) {
        const bool grew = epochs[i].phase == epochs[i - 1].phase &&
                          gap(epochs[i], metric) > gap(epochs[i - 1], metric);
        if (!grew) {
            runStart = i;
            continue;
        }
        const double now = gap(epochs[i], metric);
        if (int(i - runStart) >= rule.growingEpochs && now > threshold) {
            warning.found = true;
            warning.sinceEpoch = epochs[runStart].epoch;
            warning.lastEpoch = epochs[i].epoch;
            warning.gap = now;
        }
    }
    return warning;
}

QString OverfitDetector::describe(const OverfitWarning& accuracy, const OverfitWarning& loss) {
    auto tr = [](const char* text) { return QCoreApplication::translate("OverfitDetector", text); };
    QStringList said;
    if (accuracy.found)
        said << tr("From epoch %1 to %2 the gap between training and validation accuracy grew "
                   "every epoch, to %3 points.")
                    .arg(accuracy.sinceEpoch)
                    .arg(accuracy.lastEpoch)
                    .arg(100 * accuracy.gap, 0, 'f', 0);
    if (loss.found)
        said << tr("From epoch %1 to %2 the validation loss pulled away from the training loss, "
                   "to %3 above it.")
                    .arg(loss.sinceEpoch)
                    .arg(loss.lastEpoch)
                    .arg(loss.gap, 0, 'f', 2);
    if (said.isEmpty())
        return {};
    return tr("<b>Overfitting?</b> %1 The network is memorising the training images: try more "
              "augmentation, more images, fewer epochs or a pretrained backbone.")
        .arg(said.join(QLatin1Char(' ')));
}

}  // namespace convscope::ui
