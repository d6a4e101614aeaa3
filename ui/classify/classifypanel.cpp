#include "ui/classify/classifypanel.h"

#include "inspect/colormap.h"
#include "inspect/imagegrid.h"
#include "ui/common/localfiledrop.h"

#include <QComboBox>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QFileInfo>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QProgressBar>
#include <QSlider>
#include <QStandardItemModel>
#include <QVBoxLayout>

#include <algorithm>
#include <numeric>

namespace convscope::ui {

namespace {
constexpr int kTopK = 5;
constexpr int kImagePx = 200;
const char* const kClassProperty = "convscopeClass";
}  // namespace

ClassifyPanel::ClassifyPanel(EngineBridge* bridge, QWidget* parent)
    : QWidget(parent),
      m_bridge(bridge),
      m_image(new QLabel),
      m_caption(new QLabel),
      m_bars(new QVBoxLayout) {
    setAcceptDrops(true);
    m_image->setFixedSize(kImagePx, kImagePx);
    m_image->setAlignment(Qt::AlignCenter);
    m_image->setStyleSheet(QStringLiteral("border: 1px dashed #888888"));
    m_image->setText(tr("Drop an image here\nor click a thumbnail"));
    m_caption->setWordWrap(true);
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(m_image, 0, Qt::AlignHCenter);
    layout->addWidget(createCamControls());
    layout->addWidget(m_caption);
    layout->addLayout(m_bars);
    layout->addStretch();
    connect(m_bridge, &EngineBridge::classified, this, &ClassifyPanel::show);
    connect(m_bridge, &EngineBridge::classActivationReady, this, &ClassifyPanel::onCam);
}

QWidget* ClassifyPanel::createCamControls() {
    m_method = new QComboBox;
    m_method->addItem(tr("CAM"), int(CamMethod::Cam));
    m_method->addItem(tr("Grad-CAM"), int(CamMethod::GradCam));
    m_method->setToolTip(
        tr("CAM (Zhou et al. 2016) needs a global-average-pooling head; "
           "Grad-CAM works for any network"));
    m_class = new QComboBox;
    m_class->addItem(tr("predicted class"), -1);
    m_class->setToolTip(tr("The class whose evidence is shown; click a probability row too"));
    m_opacity = new QSlider(Qt::Horizontal);
    m_opacity->setRange(0, 100);
    m_opacity->setValue(50);
    m_opacity->setToolTip(tr("Opacity of the heat map over the image"));
    m_colormap = new QComboBox;
    for (Colormap c : {Colormap::Jet, Colormap::Viridis, Colormap::Grey})
        m_colormap->addItem(QString::fromLatin1(colormapName(c)), int(c));
    m_camCaption = new QLabel;
    // Names for Help > Glossary's "Show me" links and the tooltips of help/controltips.cpp.
    m_method->setObjectName(QStringLiteral("camMethod"));
    m_class->setObjectName(QStringLiteral("camClass"));
    m_opacity->setObjectName(QStringLiteral("camOpacity"));
    m_camCaption->setWordWrap(true);

    auto* box = new QWidget;
    auto* grid = new QGridLayout(box);
    grid->setContentsMargins(0, 0, 0, 0);
    grid->addWidget(new QLabel(tr("Heat map")), 0, 0);
    grid->addWidget(m_method, 0, 1);
    grid->addWidget(m_class, 0, 2);
    grid->addWidget(new QLabel(tr("Opacity")), 1, 0);
    grid->addWidget(m_opacity, 1, 1);
    grid->addWidget(m_colormap, 1, 2);
    grid->addWidget(m_camCaption, 2, 0, 1, 3);
    grid->setColumnStretch(2, 1);

    connect(m_method, &QComboBox::currentIndexChanged, this, &ClassifyPanel::requestCam);
    connect(m_class, &QComboBox::currentIndexChanged, this, &ClassifyPanel::requestCam);
    connect(m_opacity, &QSlider::valueChanged, this, &ClassifyPanel::renderOverlay);
    connect(m_colormap, &QComboBox::currentIndexChanged, this, &ClassifyPanel::renderOverlay);
    return box;
}

void ClassifyPanel::setWeights(const QString& path) {
    m_weights = path;
}

void ClassifyPanel::classify(const QString& imagePath) {
    if (m_weights.isEmpty()) {
        m_caption->setText(
            tr("No model yet: train one, or load weights with File > Load weights."));
        return;
    }
    m_caption->setText(tr("Classifying %1…").arg(QFileInfo(imagePath).fileName()));
    m_bridge->classify(m_weights, imagePath);
}

QStringList ClassifyPanel::shownLines() const {
    QStringList lines;
    for (QWidget* row : m_rows)
        lines.push_back(row->accessibleName());
    return lines;
}

void ClassifyPanel::show(const Classification& c) {
    for (QWidget* row : m_rows)
        row->deleteLater();
    m_rows.clear();
    std::vector<int> order(std::size_t(c.probabilities.size()));
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(),
              [&](int a, int b) { return c.probabilities[a] > c.probabilities[b]; });
    m_topIndex = order.empty() ? -1 : order.front();
    m_topClass = order.empty() ? QString() : c.classNames[order.front()];
    m_imagePath = c.imagePath;
    m_overlay = c.preview;
    m_image->setPixmap(QPixmap::fromImage(c.preview));
    m_caption->setText(tr("%1: <b>%2</b>").arg(QFileInfo(c.imagePath).fileName(), m_topClass));
    for (int k = 0; k < std::min<int>(kTopK, int(order.size())); ++k) {
        const int cls = order[std::size_t(k)];
        auto* row = new QWidget;
        auto* h = new QHBoxLayout(row);
        h->setContentsMargins(0, 0, 0, 0);
        auto* name = new QLabel(c.classNames[cls]);
        name->setMinimumWidth(90);
        auto* bar = new QProgressBar;
        bar->setRange(0, 1000);
        bar->setValue(int(c.probabilities[cls] * 1000));
        bar->setFormat(QStringLiteral("%1%").arg(100.0 * c.probabilities[cls], 0, 'f', 1));
        h->addWidget(name);
        h->addWidget(bar, 1);
        row->setAccessibleName(
            QStringLiteral("%1 %2").arg(c.classNames[cls]).arg(c.probabilities[cls], 0, 'f', 3));
        row->setToolTip(tr("Click to show the heat map for %1").arg(c.classNames[cls]));
        row->setProperty(kClassProperty, cls);
        row->setCursor(Qt::PointingHandCursor);
        row->installEventFilter(this);
        for (QWidget* child : {static_cast<QWidget*>(name), static_cast<QWidget*>(bar)}) {
            child->setProperty(kClassProperty, cls);
            child->installEventFilter(this);
        }
        m_bars->addWidget(row);
        m_rows.push_back(row);
    }

    // The class list follows the model; CAM only where the head pools globally.
    if (c.classNames != m_classNames) {
        const QSignalBlocker block(m_class);
        m_classNames = c.classNames;
        m_class->clear();
        m_class->addItem(tr("predicted class"), -1);
        for (int i = 0; i < c.classNames.size(); ++i)
            m_class->addItem(c.classNames[i], i);
    }
    auto* methods = qobject_cast<QStandardItemModel*>(m_method->model());
    QStandardItem* cam = methods->item(0);
    cam->setEnabled(c.gapHead);
    cam->setToolTip(c.gapHead ? tr("Class activation map: the dense weights over the pooled maps")
                              : tr("CAM needs a network with a global-average-pooling head "
                                   "(train with the gap head); Grad-CAM works for any network"));
    if (!c.gapHead && m_method->currentIndex() == 0) {
        const QSignalBlocker block(m_method);
        m_method->setCurrentIndex(1);
    }
    requestCam();
}

bool ClassifyPanel::camAvailable() const {
    return qobject_cast<QStandardItemModel*>(m_method->model())->item(0)->isEnabled();
}

void ClassifyPanel::setCamClass(int classIndex) {
    const int index = m_class->findData(classIndex);
    m_class->setCurrentIndex(index >= 0 ? index : 0);
}

void ClassifyPanel::setCamMethod(CamMethod method) {
    m_method->setCurrentIndex(m_method->findData(int(method)));
}

CamMethod ClassifyPanel::camMethod() const {
    return CamMethod(m_method->currentData().toInt());
}

void ClassifyPanel::setOverlayOpacity(int percent) {
    m_opacity->setValue(percent);
}

void ClassifyPanel::requestCam() {
    if (m_weights.isEmpty() || m_imagePath.isEmpty())
        return;
    const int chosen = m_class->currentData().toInt();
    m_camCaption->setText(tr("Computing the heat map…"));
    // The predicted class by index, so the map matches the bars even if a resize tips it.
    m_bridge->requestClassActivation(m_weights, m_imagePath, chosen < 0 ? m_topIndex : chosen,
                                     camMethod());
}

void ClassifyPanel::onCam(const CamResult& cam) {
    if (cam.imagePath != m_imagePath)
        return;
    m_cam = cam;
    renderOverlay();
    const ClassActivation& a = cam.activation;
    const QString name = a.classIndex >= 0 && a.classIndex < cam.classNames.size()
                             ? cam.classNames[a.classIndex]
                             : QString::number(a.classIndex);
    m_camCaption->setText(tr("%1 for <b>%2</b> from %3 (%4×%5); box: ≥ 20% of the peak")
                              .arg(a.method == CamMethod::Cam ? tr("CAM") : tr("Grad-CAM"), name,
                                   QString::fromStdString(a.featureLayer))
                              .arg(a.mapWidth)
                              .arg(a.mapHeight));
    Q_EMIT camShown();
}

void ClassifyPanel::renderOverlay() {
    const ClassActivation& a = m_cam.activation;
    if (m_cam.image.isNull() ||
        a.heat.size() != std::size_t(a.imageWidth) * std::size_t(a.imageHeight) ||
        a.imageWidth != m_cam.image.width() || a.imageHeight != m_cam.image.height())
        return;
    RgbImage picture =
        overlayHeat(toRgbImage(m_cam.image), a.heat, float(m_opacity->value()) / 100.f,
                    Colormap(m_colormap->currentData().toInt()));
    drawBox(picture, a.boxX0, a.boxY0, a.boxX1, a.boxY1, {255, 255, 255}, 2);
    m_overlay = toQImage(picture);
    m_image->setPixmap(QPixmap::fromImage(m_overlay));
}

bool ClassifyPanel::eventFilter(QObject* watched, QEvent* event) {
    if (event->type() == QEvent::MouseButtonRelease) {
        const QVariant cls = watched->property(kClassProperty);
        if (cls.isValid()) {
            setCamClass(cls.toInt());
            return true;
        }
    }
    return QWidget::eventFilter(watched, event);
}

void ClassifyPanel::dragEnterEvent(QDragEnterEvent* event) {
    acceptLocalFileDrag(event);
}

void ClassifyPanel::dropEvent(QDropEvent* event) {
    if (const QString path = takeDroppedLocalPath(event); !path.isEmpty())
        classify(path);
}

}  // namespace convscope::ui
