#include "ui/inspect/inspectpanel.h"

#include "ui/engine/enginebridge.h"
#include "ui/inspect/featuremapsview.h"
#include "ui/inspect/filtersview.h"

#include <QFileInfo>
#include <QLabel>
#include <QTabWidget>
#include <QVBoxLayout>

namespace convscope::ui {

InspectPanel::InspectPanel(EngineBridge* bridge, QWidget* parent)
    : QWidget(parent),
      m_bridge(bridge),
      m_model(new QLabel(tr("No model yet: train one, or load weights with File > Load weights."))),
      m_tabs(new QTabWidget),
      m_filters(new FiltersView(bridge)),
      m_featureMaps(new FeatureMapsView(bridge)) {
    m_model->setWordWrap(true);
    m_tabs->addTab(m_filters, tr("Filters"));
    m_tabs->addTab(m_featureMaps, tr("Feature maps"));
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    layout->addWidget(m_model);
    layout->addWidget(m_tabs, 1);
    connect(m_bridge, &EngineBridge::inspectLayersReady, this, &InspectPanel::onLayers);
}

void InspectPanel::setWeights(const QString& path, Origin origin) {
    m_weights = path;
    if (!path.isEmpty())
        m_bridge->requestLayers(path, origin);  // also when the file was rewritten (a snapshot)
}

void InspectPanel::setImage(const QString& path) {
    m_featureMaps->setImage(path);
}

void InspectPanel::showFilters() {
    m_tabs->setCurrentWidget(m_filters);
}

void InspectPanel::showFeatureMaps() {
    m_tabs->setCurrentWidget(m_featureMaps);
}

void InspectPanel::onLayers(const InspectLayers& layers) {
    if (layers.weightsPath != m_weights)
        return;
    m_layers = layers;
    m_model->setText(
        tr("%1 — %2 classes, %3×%3 inputs, %4 head, read %5")
            .arg(QFileInfo(layers.weightsPath).filePath())
            .arg(layers.classNames.size())
            .arg(layers.inputSize)
            .arg(layers.gapHead ? tr("global-average-pooling") : tr("flatten"))
            .arg(
                QFileInfo(layers.weightsPath).lastModified().toString(QStringLiteral("HH:mm:ss"))));
    m_filters->setLayers(layers);
    m_featureMaps->setLayers(layers);
    Q_EMIT layersChanged();
}

}  // namespace convscope::ui
