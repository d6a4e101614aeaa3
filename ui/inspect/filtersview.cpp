#include "ui/inspect/filtersview.h"

#include "ui/engine/enginebridge.h"
#include "ui/inspect/imagegridview.h"
#include "ui/inspect/layercombo.h"

#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QProgressBar>
#include <QPushButton>
#include <QScrollArea>
#include <QSpinBox>
#include <QSplitter>
#include <QVBoxLayout>

#include <algorithm>

namespace convscope::ui {

namespace {

constexpr int kPictureTilePx = 96;
constexpr int kPicturePx = 180;

QScrollArea* scrolled(QWidget* content) {
    auto* area = new QScrollArea;
    area->setWidget(content);
    area->setWidgetResizable(true);
    area->setFrameShape(QFrame::StyledPanel);
    return area;
}

QSpinBox* spin(int lo, int hi, int value, const QString& tip) {
    auto* s = new QSpinBox;
    s->setRange(lo, hi);
    s->setValue(value);
    s->setToolTip(tip);
    return s;
}

QString activationText(const MaximizedFilter& p) {
    return QStringLiteral("%1 → %2")
        .arg(double(p.startActivation), 0, 'g', 3)
        .arg(double(p.finalActivation), 0, 'g', 3);
}

}  // namespace

FiltersView::FiltersView(EngineBridge* bridge, QWidget* parent)
    : QWidget(parent), m_bridge(bridge) {
    auto* splitter = new QSplitter(Qt::Vertical);
    splitter->addWidget(createKernelPane());
    splitter->addWidget(createMaximizePane());
    splitter->setStretchFactor(0, 2);
    splitter->setStretchFactor(1, 3);
    splitter->setSizes({220, 520});
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(splitter);

    connect(m_bridge, &EngineBridge::filtersReady, this, &FiltersView::onKernels);
    connect(m_bridge, &EngineBridge::filterMaximized, this, &FiltersView::onPicture);
    connect(m_bridge, &EngineBridge::layerMaximized, this, &FiltersView::onLayerPictures);
    connect(m_bridge, &EngineBridge::maximizeProgress, this, &FiltersView::onProgress);
    connect(m_bridge, &EngineBridge::failed, this, [this](const QString& what) {
        if (what == QLatin1String("Activation maximization"))
            setPending(std::max(0, m_pending - 1));
    });
}

QWidget* FiltersView::createKernelPane() {
    m_layer = new QComboBox;
    m_layer->setToolTip(tr("The convolution layer whose filters are shown"));
    m_channels = new QComboBox;
    m_channels->addItem(tr("Auto"), int(FilterChannels::Auto));
    m_channels->addItem(tr("RGB"), int(FilterChannels::Rgb));
    m_channels->addItem(tr("Mean of inputs"), int(FilterChannels::Mean));
    m_channels->addItem(tr("Per input channel"), int(FilterChannels::PerInput));
    m_channels->setToolTip(
        tr("Auto: colour for the first layer (3 inputs), the mean over the "
           "input channels deeper down. Per input channel: one row per filter."));
    m_normalisation = new QComboBox;
    m_normalisation->addItem(tr("per filter"), int(FilterNormalisation::PerFilter));
    m_normalisation->addItem(tr("per layer"), int(FilterNormalisation::PerLayer));
    m_normalisation->setToolTip(
        tr("Per filter: each kernel stretched to its own range. "
           "Per layer: one range, so strengths compare."));
    m_kernelZoom = spin(8, 128, 40, tr("Size of each kernel on screen, in pixels"));
    m_kernelZoom->setSuffix(tr(" px"));
    m_kernels = new ImageGridView;
    m_kernels->setTileSize(m_kernelZoom->value());
    m_kernels->setPlaceholder(tr("No model yet: train one, or File > Load weights."));
    m_kernels->setToolTip(tr("Click a filter to see what it responds to"));

    auto* controls = new QHBoxLayout;
    controls->addWidget(new QLabel(tr("Layer")));
    controls->addWidget(m_layer, 1);
    controls->addWidget(new QLabel(tr("Show")));
    controls->addWidget(m_channels);
    controls->addWidget(new QLabel(tr("Normalise")));
    controls->addWidget(m_normalisation);
    controls->addWidget(m_kernelZoom);
    auto* pane = new QWidget;
    auto* layout = new QVBoxLayout(pane);
    layout->setContentsMargins(4, 4, 4, 0);
    layout->addLayout(controls);
    layout->addWidget(scrolled(m_kernels), 1);

    for (QComboBox* box : {m_layer, m_channels, m_normalisation})
        connect(box, &QComboBox::currentIndexChanged, this, [this] { requestKernels(); });
    connect(m_kernelZoom, &QSpinBox::valueChanged, m_kernels, &ImageGridView::setTileSize);
    connect(m_kernels, &ImageGridView::clicked, this, [this](int index) {
        maximizeFilter(m_grid.columns > 0 ? index / m_grid.columns : index);
    });
    connect(m_kernels, &ImageGridView::hovered, this, [this](int index) {
        if (index < 0)
            return;
        m_readout->setText(m_grid.columns > 0 ? tr("%1: filter %2, input channel %3")
                                                    .arg(m_grid.layer)
                                                    .arg(index / m_grid.columns)
                                                    .arg(index % m_grid.columns)
                                              : tr("%1: filter %2").arg(m_grid.layer).arg(index));
    });
    return pane;
}

QWidget* FiltersView::createMaximizePane() {
    const MaximizeOptions defaults;
    m_steps = spin(1, 1000, defaults.steps, tr("Gradient ascent steps"));
    m_stepSize = new QDoubleSpinBox;
    m_stepSize->setRange(0.01, 100);
    m_stepSize->setValue(double(defaults.stepSize));
    m_stepSize->setToolTip(tr("Step in pixel units (0..255) along the normalised gradient"));
    m_jitter = spin(0, 32, defaults.jitter, tr("Random shift of up to this many pixels per step"));
    m_blurEvery = spin(0, 100, defaults.blurEvery, tr("Blur the picture every N steps (0: never)"));
    m_octaves = spin(1, 6, defaults.octaves, tr("Start small and upscale between octaves"));
    m_showBest = spin(0, 4096, 0, tr("Keep the best N filters of a layer (0: all)"));
    m_showBest->setSpecialValueText(tr("all"));
    m_computeLayer = new QPushButton(tr("Compute whole layer"));
    // Names for Help > Glossary's "Show me" links and the tooltips of help/controltips.cpp.
    m_computeLayer->setObjectName(QStringLiteral("filtersComputeLayer"));
    m_steps->setObjectName(QStringLiteral("filtersSteps"));
    m_jitter->setObjectName(QStringLiteral("filtersJitter"));
    m_octaves->setObjectName(QStringLiteral("filtersOctaves"));
    m_computeLayer->setToolTip(tr("Every filter of the layer, in the background, best first"));
    m_cancel = new QPushButton(tr("Cancel"));
    m_cancel->setEnabled(false);
    m_progress = new QProgressBar;
    m_progress->setRange(0, 1);
    m_progress->setValue(0);
    m_progress->setTextVisible(true);
    m_pictureLabel = new QLabel(tr("Click a filter above"));
    m_pictureLabel->setFixedSize(kPicturePx, kPicturePx);
    m_pictureLabel->setAlignment(Qt::AlignCenter);
    m_pictureLabel->setStyleSheet(QStringLiteral("border: 1px dashed #888888"));
    m_pictureLabel->setWordWrap(true);
    m_pictureCaption = new QLabel;
    m_pictureCaption->setWordWrap(true);
    m_pictureCaption->setMaximumWidth(kPicturePx);
    m_readout = new QLabel;
    m_pictures = new ImageGridView;
    m_pictures->setTileSize(kPictureTilePx);
    m_pictures->setPlaceholder(
        tr("Compute whole layer: each filter's picture, sorted by the "
           "activation it reaches"));

    auto* options = new QHBoxLayout;
    const std::pair<QString, QWidget*> fields[] = {
        {tr("Steps"), m_steps},          {tr("Step"), m_stepSize},   {tr("Jitter"), m_jitter},
        {tr("Blur every"), m_blurEvery}, {tr("Octaves"), m_octaves}, {tr("Show"), m_showBest}};
    for (const auto& [name, field] : fields) {
        options->addWidget(new QLabel(name));
        options->addWidget(field);
    }
    options->addStretch();
    auto* buttons = new QHBoxLayout;
    buttons->addWidget(m_computeLayer);
    buttons->addWidget(m_cancel);
    buttons->addWidget(m_progress, 1);

    auto* single = new QVBoxLayout;
    single->addWidget(m_pictureLabel);
    single->addWidget(m_pictureCaption);
    single->addStretch();
    auto* results = new QHBoxLayout;
    results->addLayout(single);
    results->addWidget(scrolled(m_pictures), 1);

    auto* box = new QGroupBox(tr("Activation maximization"));
    auto* layout = new QVBoxLayout(box);
    layout->addLayout(options);
    layout->addLayout(buttons);
    layout->addLayout(results, 1);
    layout->addWidget(m_readout);

    connect(m_computeLayer, &QPushButton::clicked, this, &FiltersView::maximizeLayer);
    connect(m_cancel, &QPushButton::clicked, this, &FiltersView::cancelMaximize);
    connect(m_showBest, &QSpinBox::valueChanged, this, &FiltersView::showLayerPictures);
    connect(m_pictures, &ImageGridView::hovered, this, [this](int index) {
        if (index < 0 || index >= m_layerPictures.size())
            return;
        const MaximizedFilter& p = m_layerPictures[index];
        m_readout->setText(tr("%1 filter %2: mean activation %3")
                               .arg(p.layer)
                               .arg(p.filter)
                               .arg(activationText(p)));
    });
    connect(m_pictures, &ImageGridView::clicked, this, [this](int index) {
        if (index < 0 || index >= m_layerPictures.size())
            return;
        m_picture = m_layerPictures[index];
        m_pictureLabel->setPixmap(QPixmap::fromImage(m_picture.image.scaled(
            kPicturePx, kPicturePx, Qt::KeepAspectRatio, Qt::SmoothTransformation)));
        m_pictureCaption->setText(tr("%1 filter %2\n%3")
                                      .arg(m_picture.layer)
                                      .arg(m_picture.filter)
                                      .arg(activationText(m_picture)));
    });

    auto* pane = new QWidget;
    auto* outer = new QVBoxLayout(pane);
    outer->setContentsMargins(4, 0, 4, 4);
    outer->addWidget(box);
    return pane;
}

void FiltersView::setLayers(const InspectLayers& layers) {
    m_layers = layers;
    fillLayerCombo(m_layer, layers, [](const InspectableLayer& l) { return l.hasKernels; });
    requestKernels(layers.origin);
}

bool FiltersView::selectLayer(const QString& name) {
    const int index = m_layer->findData(name);
    if (index < 0)
        return false;
    m_layer->setCurrentIndex(index);
    return true;
}

QString FiltersView::layer() const {
    return m_layer->currentData().toString();
}

void FiltersView::setDisplay(FilterChannels channels, FilterNormalisation normalisation) {
    const QSignalBlocker block(m_channels);
    m_channels->setCurrentIndex(m_channels->findData(int(channels)));
    m_normalisation->setCurrentIndex(m_normalisation->findData(int(normalisation)));
    requestKernels();
}

void FiltersView::requestKernels(Origin origin) {
    if (m_layers.weightsPath.isEmpty() || layer().isEmpty())
        return;
    m_bridge->requestFilters(m_layers.weightsPath, layer(),
                             FilterChannels(m_channels->currentData().toInt()),
                             FilterNormalisation(m_normalisation->currentData().toInt()), origin);
}

void FiltersView::onKernels(const FilterGrid& grid) {
    if (grid.weightsPath != m_layers.weightsPath || grid.layer != layer())
        return;  // answers a request made before the selection changed
    m_grid = grid;
    m_kernels->setTiles(grid.tiles, grid.columns);
    m_readout->setText(tr("%1: %2 filters over %3 input channels; click one for its picture")
                           .arg(grid.layer)
                           .arg(grid.filters)
                           .arg(grid.inputChannels));
    Q_EMIT kernelsShown();
}

MaximizeOptions FiltersView::options() const {
    MaximizeOptions o;
    o.steps = m_steps->value();
    o.stepSize = float(m_stepSize->value());
    o.jitter = m_jitter->value();
    o.blurEvery = m_blurEvery->value();
    o.octaves = m_octaves->value();
    return o;
}

void FiltersView::setOptions(const MaximizeOptions& o) {
    m_steps->setValue(o.steps);
    m_stepSize->setValue(double(o.stepSize));
    m_jitter->setValue(o.jitter);
    m_blurEvery->setValue(o.blurEvery);
    m_octaves->setValue(o.octaves);
}

void FiltersView::setKernelSize(int px) {
    m_kernelZoom->setValue(px);
}

void FiltersView::setShowBest(int count) {
    m_showBest->setValue(count);
}

void FiltersView::setPending(int pending) {
    m_pending = pending;
    m_cancel->setEnabled(m_pending > 0);
    if (m_pending == 0 && m_progress->maximum() == 0)
        m_progress->setRange(0, 1);  // leave the busy look
}

void FiltersView::maximizeFilter(int filter) {
    if (m_layers.weightsPath.isEmpty() || layer().isEmpty())
        return;
    m_pictureLabel->setText(tr("Computing filter %1…").arg(filter));
    m_pictureCaption->clear();
    m_progress->setRange(0, 0);
    setPending(m_pending + 1);
    m_bridge->maximizeFilter(m_layers.weightsPath, layer(), filter, options());
}

void FiltersView::maximizeLayer() {
    if (m_layers.weightsPath.isEmpty() || layer().isEmpty())
        return;
    m_progress->setRange(0, 0);
    setPending(m_pending + 1);
    m_bridge->maximizeLayer(m_layers.weightsPath, layer(), options());
}

void FiltersView::cancelMaximize() {
    m_bridge->cancelMaximize();
    m_readout->setText(tr("Cancelled"));
    if (m_picture.filter < 0)
        m_pictureLabel->setText(tr("Click a filter above"));
}

void FiltersView::onProgress(int done, int total) {
    if (total == 0) {  // a cancelled single filter
        setPending(std::max(0, m_pending - 1));
        return;
    }
    m_progress->setRange(0, total);
    m_progress->setValue(done);
}

void FiltersView::onPicture(const MaximizedFilter& picture) {
    setPending(std::max(0, m_pending - 1));
    m_picture = picture;
    m_pictureLabel->setPixmap(QPixmap::fromImage(picture.image.scaled(
        kPicturePx, kPicturePx, Qt::KeepAspectRatio, Qt::SmoothTransformation)));
    m_pictureCaption->setText(tr("%1 filter %2\nmean activation %3")
                                  .arg(picture.layer)
                                  .arg(picture.filter)
                                  .arg(activationText(picture)));
    m_progress->setValue(m_progress->maximum());
    Q_EMIT pictureShown(picture.filter);
}

void FiltersView::onLayerPictures(const MaximizedLayer& result) {
    setPending(std::max(0, m_pending - 1));
    m_allPictures = result.filters;
    showLayerPictures();
    m_readout->setText(
        result.cancelled
            ? tr("%1: cancelled after %2 filters").arg(result.layer).arg(result.filters.size())
            : tr("%1: %2 filters, best first; hover for the activation, click to enlarge")
                  .arg(result.layer)
                  .arg(result.filters.size()));
    Q_EMIT layerMaximized(result.cancelled);
}

void FiltersView::showLayerPictures() {
    m_layerPictures = m_allPictures;
    std::stable_sort(m_layerPictures.begin(), m_layerPictures.end(),
                     [](const MaximizedFilter& a, const MaximizedFilter& b) {
                         return a.finalActivation > b.finalActivation;
                     });
    if (m_showBest->value() > 0 && m_layerPictures.size() > m_showBest->value())
        m_layerPictures.resize(m_showBest->value());
    QList<QImage> tiles;
    QStringList captions;
    for (const MaximizedFilter& p : m_layerPictures) {
        tiles.push_back(p.image);
        captions.push_back(
            QStringLiteral("#%1  %2").arg(p.filter).arg(double(p.finalActivation), 0, 'g', 3));
    }
    m_pictures->setTiles(tiles, 0, captions);
}

QString FiltersView::readout() const {
    return m_readout->text();
}

}  // namespace convscope::ui
