#include "ui/inspect/featuremapsview.h"

#include "ui/common/localfiledrop.h"
#include "ui/engine/enginebridge.h"
#include "ui/inspect/imagegridview.h"
#include "ui/inspect/layercombo.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QScrollArea>
#include <QSpinBox>
#include <QVBoxLayout>

#include <algorithm>

namespace convscope::ui {

namespace {

constexpr int kSidePx = 200;

std::pair<float, float> channelRange(const FeatureMaps& maps, int channel) {
    const std::size_t plane = std::size_t(maps.width) * std::size_t(maps.height);
    const auto first = maps.values.begin() + std::ptrdiff_t(plane * std::size_t(channel));
    const auto [lo, hi] = std::minmax_element(first, first + std::ptrdiff_t(plane));
    return {*lo, *hi};
}

}  // namespace

FeatureMapsView::FeatureMapsView(EngineBridge* bridge, QWidget* parent)
    : QWidget(parent),
      m_bridge(bridge),
      m_layer(new QComboBox),
      m_colormap(new QComboBox),
      m_sharedRange(new QCheckBox(tr("Same range for all maps"))),
      m_tileSize(new QSpinBox),
      m_source(new QLabel(tr("Drop an image here\nor click a thumbnail"))),
      m_enlarged(new QLabel),
      m_readout(new QLabel),
      m_grid(new ImageGridView) {
    setAcceptDrops(true);
    m_layer->setToolTip(tr("The layer whose activations are shown"));
    m_layer->setObjectName(QStringLiteral("featureMapsLayer"));  // Help > Glossary, Show me
    for (Colormap c : {Colormap::Viridis, Colormap::Jet, Colormap::Grey})
        m_colormap->addItem(QString::fromLatin1(colormapName(c)), int(c));
    m_sharedRange->setToolTip(
        tr("On: one colour scale for every channel, so their strengths compare. Off: each map "
           "stretched to its own range."));
    m_tileSize->setRange(16, 256);
    m_tileSize->setValue(96);
    m_tileSize->setSuffix(tr(" px"));
    m_tileSize->setToolTip(tr("Size of each map on screen"));
    m_grid->setTileSize(m_tileSize->value());
    m_grid->setPlaceholder(tr("Pick an image: click a thumbnail or drop a file here"));
    for (QLabel* l : {m_source, m_enlarged}) {
        l->setFixedSize(kSidePx, kSidePx);
        l->setAlignment(Qt::AlignCenter);
        l->setStyleSheet(QStringLiteral("border: 1px dashed #888888"));
        l->setWordWrap(true);
    }
    m_enlarged->setText(tr("Click a map to enlarge it"));
    m_readout->setWordWrap(true);
    m_readout->setMinimumHeight(fontMetrics().height() * 3);
    m_readout->setAlignment(Qt::AlignTop | Qt::AlignLeft);
    m_readout->setFixedWidth(kSidePx);

    auto* controls = new QHBoxLayout;
    controls->addWidget(new QLabel(tr("Layer")));
    controls->addWidget(m_layer, 1);
    controls->addWidget(new QLabel(tr("Colours")));
    controls->addWidget(m_colormap);
    controls->addWidget(m_sharedRange);
    controls->addWidget(m_tileSize);
    auto* side = new QVBoxLayout;
    side->addWidget(m_source);
    side->addWidget(m_enlarged);
    side->addWidget(m_readout);
    side->addStretch();
    auto* area = new QScrollArea;
    area->setWidget(m_grid);
    area->setWidgetResizable(true);
    auto* body = new QHBoxLayout;
    body->addLayout(side);
    body->addWidget(area, 1);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    layout->addLayout(controls);
    layout->addLayout(body, 1);

    connect(m_layer, &QComboBox::currentIndexChanged, this, [this] { request(); });
    connect(m_colormap, &QComboBox::currentIndexChanged, this, &FeatureMapsView::renderTiles);
    connect(m_sharedRange, &QCheckBox::toggled, this, &FeatureMapsView::renderTiles);
    connect(m_tileSize, &QSpinBox::valueChanged, m_grid, &ImageGridView::setTileSize);
    connect(m_grid, &ImageGridView::hovered, this, &FeatureMapsView::onHover);
    connect(m_grid, &ImageGridView::clicked, this, &FeatureMapsView::enlarge);
    connect(m_grid, &ImageGridView::shown, this, &FeatureMapsView::finishMeasurement);
    connect(m_bridge, &EngineBridge::featureMapsReady, this, &FeatureMapsView::onMaps);
}

void FeatureMapsView::setLayers(const InspectLayers& layers) {
    m_layers = layers;
    fillLayerCombo(m_layer, layers, [](const InspectableLayer& l) { return l.spatial; });
    request(layers.origin);
}

void FeatureMapsView::setImage(const QString& path) {
    m_imagePath = path;
    request();
}

bool FeatureMapsView::selectLayer(const QString& name) {
    const int index = m_layer->findData(name);
    if (index < 0)
        return false;
    m_layer->setCurrentIndex(index);
    return true;
}

QString FeatureMapsView::layer() const {
    return m_layer->currentData().toString();
}

void FeatureMapsView::setColormap(Colormap colormap) {
    m_colormap->setCurrentIndex(m_colormap->findData(int(colormap)));
}

void FeatureMapsView::setTileSize(int px) {
    m_tileSize->setValue(px);
}

void FeatureMapsView::request(Origin origin) {
    if (m_layers.weightsPath.isEmpty() || m_imagePath.isEmpty() || layer().isEmpty())
        return;
    m_clock.start();
    m_measuring = true;
    m_bridge->requestFeatureMaps(m_layers.weightsPath, m_imagePath, layer(), origin);
}

void FeatureMapsView::onMaps(const FeatureMapsResult& result) {
    if (result.weightsPath != m_layers.weightsPath || result.imagePath != m_imagePath ||
        QString::fromStdString(result.maps.layer) != layer())
        return;  // answers an older selection
    m_maps = result.maps;
    m_source->setPixmap(QPixmap::fromImage(
        result.image.scaled(kSidePx, kSidePx, Qt::KeepAspectRatio, Qt::SmoothTransformation)));
    m_source->setToolTip(QFileInfo(m_imagePath).fileName());
    renderTiles();
    if (!m_grid->isVisible())
        finishMeasurement();  // nothing will be painted; the grid is ready
}

void FeatureMapsView::renderTiles() {
    if (m_maps.channels == 0)
        return;
    const auto colormap = Colormap(m_colormap->currentData().toInt());
    const std::size_t plane = std::size_t(m_maps.width) * std::size_t(m_maps.height);
    QList<QImage> tiles;
    tiles.reserve(m_maps.channels);
    for (int c = 0; c < m_maps.channels; ++c) {
        const auto [lo, hi] = m_sharedRange->isChecked()
                                  ? std::pair<float, float>(m_maps.minValue, m_maps.maxValue)
                                  : channelRange(m_maps, c);
        tiles.push_back(toQImage(colorize(m_maps.values.data() + plane * std::size_t(c),
                                          m_maps.width, m_maps.height, lo, hi, colormap)));
    }
    const int selected = m_grid->selected();
    m_grid->setTiles(tiles);
    enlarge(selected >= 0 && selected < tiles.size() ? selected : -1);
}

void FeatureMapsView::finishMeasurement() {
    if (!m_measuring)
        return;
    m_measuring = false;
    m_latencyMs = double(m_clock.nsecsElapsed()) / 1e6;
    Q_EMIT mapsShown(m_latencyMs);
}

void FeatureMapsView::enlarge(int channel) {
    if (channel < 0 || channel >= m_grid->tileCount()) {
        m_enlarged->setText(tr("Click a map to enlarge it"));
        return;
    }
    m_grid->setSelected(channel);
    m_enlarged->setPixmap(QPixmap::fromImage(m_grid->tile(channel).scaled(
        kSidePx, kSidePx, Qt::KeepAspectRatio, Qt::FastTransformation)));
    m_enlarged->setToolTip(tr("%1, channel %2").arg(layer()).arg(channel));
}

void FeatureMapsView::onHover(int channel, const QPoint& pixel) {
    if (channel < 0 || pixel.x() < 0 || channel >= m_maps.channels)
        return;
    const std::size_t at =
        (std::size_t(channel) * std::size_t(m_maps.height) + std::size_t(pixel.y())) *
            std::size_t(m_maps.width) +
        std::size_t(pixel.x());
    m_readout->setText(tr("%1\nchannel %2, x %3, y %4\nvalue %5")
                           .arg(QString::fromStdString(m_maps.layer))
                           .arg(channel)
                           .arg(pixel.x())
                           .arg(pixel.y())
                           .arg(double(m_maps.values[at]), 0, 'g', 6));
}

QString FeatureMapsView::readout() const {
    return m_readout->text();
}

void FeatureMapsView::dragEnterEvent(QDragEnterEvent* event) {
    acceptLocalFileDrag(event);
}

void FeatureMapsView::dropEvent(QDropEvent* event) {
    if (const QString path = takeDroppedLocalPath(event); !path.isEmpty())
        setImage(path);
}

}  // namespace convscope::ui
