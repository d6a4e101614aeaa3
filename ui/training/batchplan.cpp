#include "ui/training/batchplan.h"

#include "models/modelconfig.h"

#include <QCoreApplication>

namespace convscope::ui {

namespace {

QString tr(const char* text) {
    return QCoreApplication::translate("BatchPlan", text);
}

}  // namespace

BatchPlan BatchPlan::make(int trainImages, int batchSize, int imageSize,
                          const std::vector<LayerInfo>& layers) {
    BatchPlan p;
    p.trainImages = std::max(0, trainImages);
    p.batchSize = std::max(0, batchSize);
    p.imageSize = std::max(0, imageSize);
    if (p.batchSize > 0 && p.trainImages > 0)
        p.batchesPerEpoch = (std::int64_t(p.trainImages) + p.batchSize - 1) / p.batchSize;
    const std::int64_t pixels = std::int64_t(p.imageSize) * p.imageSize;
    p.inputBytes = std::int64_t(p.batchSize) * 3 * pixels * 4;
    if (!layers.empty()) {
        std::int64_t values = 0, parameters = 0;
        for (const LayerInfo& l : layers) {
            std::int64_t n = 1;
            for (std::int64_t d : l.outputShape)
                n *= d;
            values += n;
            parameters += l.parameters;
        }
        p.activationBytes = 2 * values * 4 * p.batchSize;
        p.parameterBytes = parameters * 16;
    }
    return p;
}

QString BatchPlan::bytesText(std::int64_t bytes) {
    const double b = double(bytes);
    if (b >= 1024.0 * 1024 * 1024)
        return QStringLiteral("%1 GiB").arg(b / (1024.0 * 1024 * 1024), 0, 'f', 1);
    if (b >= 1024.0 * 1024)
        return QStringLiteral("%1 MiB").arg(b / (1024.0 * 1024), 0, 'f', 1);
    if (b >= 1024.0)
        return QStringLiteral("%1 KiB").arg(b / 1024.0, 0, 'f', 0);
    return QStringLiteral("%1 B").arg(bytes);
}

QString BatchPlan::text() const {
    if (batchSize == 0)
        return tr(
            "Batch size auto: chosen when training starts (the largest power of two that "
            "fits the GPU; 32 on the CPU).");
    QString steps;
    if (trainImages == 0) {
        steps = tr("Open a dataset to see how many updates an epoch makes.");
    } else if (batchLargerThanData()) {
        steps = tr("⚠ The batch (%1) is larger than the training set (%2 images): one update "
                   "per epoch. Choose a batch of at most %2.")
                    .arg(batchSize)
                    .arg(trainImages);
    } else {
        steps = tr("%1 training images ÷ batch %2 = %3 updates per epoch.")
                    .arg(trainImages)
                    .arg(batchSize)
                    .arg(batchesPerEpoch);
        if (fewUpdates())
            steps += QLatin1Char(' ') +
                     tr("⚠ Very few updates per epoch: a smaller batch learns more per epoch.");
    }
    QString memory = tr("Memory per batch, estimated: input %1").arg(bytesText(inputBytes));
    if (activationBytes >= 0)
        memory += tr(", activations ≈ %1, weights + gradients + optimizer ≈ %2")
                      .arg(bytesText(activationBytes), bytesText(parameterBytes));
    return steps + QLatin1Char('\n') + memory + QLatin1Char('.');
}

}  // namespace convscope::ui
