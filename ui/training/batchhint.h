#pragma once

#include "ui/training/batchplan.h"

#include <QLabel>

#include <vector>

class QSpinBox;

namespace convscope::ui {

/// The line under the training settings that says what the batch size means for the data
/// (updates per epoch, with a warning when the batch is larger than the training set or
/// makes very few updates) and roughly how much memory a batch needs (BatchPlan).
class BatchHint : public QLabel {
    Q_OBJECT
public:
    /// Follows `batch` and `imageSize` (the training panel's boxes) as they change.
    BatchHint(QSpinBox* batch, QSpinBox* imageSize, QWidget* parent = nullptr);

    /// The number of training images of the open dataset (0: none open).
    void setTrainingImages(int count);
    /// The model's layers, for the activation estimate.
    void setLayers(const std::vector<convscope::LayerInfo>& layers);
    const BatchPlan& plan() const { return m_plan; }

private:
    void refresh();

    QSpinBox* m_batch;
    QSpinBox* m_imageSize;
    int m_trainImages = 0;
    std::vector<convscope::LayerInfo> m_layers;
    BatchPlan m_plan;
};

}  // namespace convscope::ui
