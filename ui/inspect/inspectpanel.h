#pragma once

#include "ui/engine/inspection.h"

#include <QWidget>

class QLabel;
class QTabWidget;

namespace convscope::ui {

class EngineBridge;
class FeatureMapsView;
class FiltersView;

/// Looking inside the current network: its filters and what they respond to (Filters tab) and
/// an image's feature maps (Feature maps tab). Uses the weights file as it is when asked (the
/// finished model, a loaded file, or the training run's last snapshot), so it works while
/// training goes on; a new snapshot refreshes what is shown.
class InspectPanel : public QWidget {
    Q_OBJECT
public:
    explicit InspectPanel(EngineBridge* bridge, QWidget* parent = nullptr);

    void setWeights(const QString& path, Origin origin = Origin::User);
    const QString& weights() const { return m_weights; }
    /// The image whose feature maps are shown.
    void setImage(const QString& path);

    void showFilters();
    void showFeatureMaps();

    /// The layers of the current weights, once known (empty before).
    const InspectLayers& layers() const { return m_layers; }
    FiltersView* filters() const { return m_filters; }
    FeatureMapsView* featureMaps() const { return m_featureMaps; }
    QTabWidget* tabs() const { return m_tabs; }

Q_SIGNALS:
    void layersChanged();

private:
    void onLayers(const InspectLayers& layers);

    EngineBridge* m_bridge;
    QString m_weights;
    InspectLayers m_layers;
    QLabel* m_model;
    QTabWidget* m_tabs;
    FiltersView* m_filters;
    FeatureMapsView* m_featureMaps;
};

}  // namespace convscope::ui
