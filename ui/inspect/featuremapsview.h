#pragma once

#include "inspect/colormap.h"
#include "ui/engine/inspection.h"

#include <QElapsedTimer>
#include <QWidget>

class QCheckBox;
class QComboBox;
class QLabel;
class QSpinBox;

namespace convscope::ui {

class EngineBridge;
class ImageGridView;

/// One image's activations at one layer: every channel as a coloured map in a grid, the value
/// under the mouse (channel, x, y, value), a click enlarges a map. Pick the image by clicking
/// a thumbnail (the main window calls setImage) or by dropping a file here.
class FeatureMapsView : public QWidget {
    Q_OBJECT
public:
    explicit FeatureMapsView(EngineBridge* bridge, QWidget* parent = nullptr);

    void setLayers(const InspectLayers& layers);
    void setImage(const QString& path);
    const QString& image() const { return m_imagePath; }
    bool selectLayer(const QString& name);
    QString layer() const;
    void setColormap(convscope::Colormap colormap);
    void setTileSize(int px);

    ImageGridView* grid() const { return m_grid; }
    /// The maps shown, as core computed them.
    const convscope::FeatureMaps& maps() const { return m_maps; }
    QString readout() const;
    /// Milliseconds from the last request to its grid being painted.
    double lastLatencyMs() const { return m_latencyMs; }

Q_SIGNALS:
    void mapsShown(double latencyMs);

protected:
    void dragEnterEvent(QDragEnterEvent* event) override;
    void dropEvent(QDropEvent* event) override;

private:
    void request(Origin origin = Origin::User);
    void onMaps(const FeatureMapsResult& result);
    void renderTiles();
    void enlarge(int channel);
    void onHover(int channel, const QPoint& pixel);
    void finishMeasurement();

    EngineBridge* m_bridge;
    InspectLayers m_layers;
    QString m_imagePath;
    convscope::FeatureMaps m_maps;
    QElapsedTimer m_clock;
    bool m_measuring = false;
    double m_latencyMs = -1;

    QComboBox* m_layer;
    QComboBox* m_colormap;
    QCheckBox* m_sharedRange;
    QSpinBox* m_tileSize;
    QLabel* m_source;
    QLabel* m_enlarged;
    QLabel* m_readout;
    ImageGridView* m_grid;
};

}  // namespace convscope::ui
