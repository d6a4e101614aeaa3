#include "ui/training/batchhint.h"

#include "models/modelconfig.h"

#include <QSpinBox>

namespace convscope::ui {

BatchHint::BatchHint(QSpinBox* batch, QSpinBox* imageSize, QWidget* parent)
    : QLabel(parent), m_batch(batch), m_imageSize(imageSize) {
    setObjectName(QStringLiteral("batchHint"));
    setWordWrap(true);
    setToolTip(
        tr("Updates per epoch = ceil(training images ÷ batch size). The memory figures "
           "are estimates for float32 training: the input is batch × 3 × size × size × 4 "
           "bytes; activations are guessed from the layer list (blocks keep more inside "
           "them, and the library needs working space on top), so treat them as a floor."));
    connect(m_batch, &QSpinBox::valueChanged, this, &BatchHint::refresh);
    connect(m_imageSize, &QSpinBox::valueChanged, this, &BatchHint::refresh);
    refresh();
}

void BatchHint::setTrainingImages(int count) {
    m_trainImages = count;
    refresh();
}

void BatchHint::setLayers(const std::vector<LayerInfo>& layers) {
    m_layers = layers;
    refresh();
}

void BatchHint::refresh() {
    m_plan = BatchPlan::make(m_trainImages, m_batch->value(), m_imageSize->value(), m_layers);
    setText(m_plan.text());
    setStyleSheet(m_plan.hasWarning() ? QStringLiteral("color: #a05a00") : QString());
}

}  // namespace convscope::ui
