#include "ui/augment/augmentpanel.h"

#include "ui/engine/enginebridge.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QRandomGenerator>
#include <QVBoxLayout>

namespace convscope::ui {

namespace {
constexpr int kPreviewCount = 9;
constexpr int kPreviewSize = 96;
}  // namespace

AugmentPanel::AugmentPanel(EngineBridge* bridge, QWidget* parent)
    : QWidget(parent),
      m_bridge(bridge),
      m_enabled(new QCheckBox(tr("Augment while training"))),
      m_horizontalFlip(new QCheckBox(tr("Horizontal flip"))),
      m_verticalFlip(new QCheckBox(tr("Vertical flip"))),
      m_fillMode(new QComboBox),
      m_form(new QWidget),
      m_blockedNote(new QLabel),
      m_grid(new QGridLayout) {
    // Two parameters per row, the preview grid below: the panel fits a narrow dock.
    auto* form = new QGridLayout(m_form);
    form->setContentsMargins(0, 0, 0, 0);
    int slot = 0;
    auto add = [&](const QString& label, QWidget* w) {
        form->addWidget(new QLabel(label), 1 + slot / 2, (slot % 2) * 2);
        form->addWidget(w, 1 + slot / 2, (slot % 2) * 2 + 1);
        ++slot;
    };
    m_enabled->setChecked(true);
    // Names for Help > Glossary's "Show me" links and the tooltips of help/controltips.cpp.
    m_enabled->setObjectName(QStringLiteral("augmentEnabled"));
    m_fillMode->setObjectName(QStringLiteral("augment:fill_mode"));
    m_horizontalFlip->setObjectName(QStringLiteral("augment:horizontal_flip"));
    m_verticalFlip->setObjectName(QStringLiteral("augment:vertical_flip"));
    form->addWidget(m_enabled, 0, 0, 1, 4);
    add(tr("Rotation °"), addSpin(tr("Rotation"), QStringLiteral("rotation_range"), 180, 5, 20));
    add(tr("Shear °"), addSpin(tr("Shear"), QStringLiteral("shear_range"), 60, 5));
    add(tr("Width shift"),
        addSpin(tr("Width shift"), QStringLiteral("width_shift_range"), 1, 0.05, 0.1));
    add(tr("Height shift"),
        addSpin(tr("Height shift"), QStringLiteral("height_shift_range"), 1, 0.05, 0.1));
    add(tr("Zoom"), addSpin(tr("Zoom"), QStringLiteral("zoom_range"), 0.9, 0.05, 0.1));
    add(tr("Channel shift"),
        addSpin(tr("Channel shift"), QStringLiteral("channel_shift_range"), 255, 5));
    add(tr("Brightness ≥"),
        addSpin(tr("Brightness low"), QStringLiteral("brightness_range[0]"), 2, 0.05, 1));
    add(tr("Brightness ≤"),
        addSpin(tr("Brightness high"), QStringLiteral("brightness_range[1]"), 3, 0.05, 1));
    m_fillMode->addItems({QStringLiteral("nearest"), QStringLiteral("constant"),
                          QStringLiteral("reflect"), QStringLiteral("wrap")});
    m_fillMode->setToolTip(QStringLiteral("fill_mode"));
    add(tr("Fill"), m_fillMode);
    add(tr("Fill value"), addSpin(tr("Fill value"), QStringLiteral("cval"), 255, 1));
    m_horizontalFlip->setToolTip(QStringLiteral("horizontal_flip"));
    m_horizontalFlip->setChecked(true);
    m_verticalFlip->setToolTip(QStringLiteral("vertical_flip"));
    form->addWidget(m_horizontalFlip, 1 + (slot + 1) / 2, 0, 1, 2);
    form->addWidget(m_verticalFlip, 1 + (slot + 1) / 2, 2, 1, 2);

    auto* reseedButton = new QPushButton(tr("Reseed"));
    auto* saveButton = new QPushButton(tr("Save previews…"));
    auto* buttons = new QHBoxLayout;
    buttons->addWidget(reseedButton);
    buttons->addWidget(saveButton);

    for (int i = 0; i < kPreviewCount; ++i) {
        auto* tile = new QLabel;
        tile->setFixedSize(kPreviewSize, kPreviewSize);
        tile->setAlignment(Qt::AlignCenter);
        tile->setStyleSheet(QStringLiteral("background: #202020; color: #bbbbbb"));
        m_grid->addWidget(tile, i / 3, i % 3);
        m_tiles.push_back(tile);
    }
    m_tiles.front()->setText(tr("Click an image"));

    m_grid->setSpacing(4);
    m_blockedNote->setWordWrap(true);
    m_blockedNote->setStyleSheet(QStringLiteral("color: #a05a00"));
    m_blockedNote->setVisible(false);
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(m_blockedNote);
    layout->addWidget(m_form);
    layout->addLayout(m_grid);
    layout->addLayout(buttons);
    layout->addStretch();

    m_debounce.setSingleShot(true);
    m_debounce.setInterval(60);
    connect(&m_debounce, &QTimer::timeout, this, &AugmentPanel::requestPreviews);
    auto changed = [this] {
        Q_EMIT paramsChanged();
        m_debounce.start();
    };
    for (const auto& [name, spin] : m_spins)
        connect(spin, &QDoubleSpinBox::valueChanged, this, changed);
    connect(m_horizontalFlip, &QCheckBox::toggled, this, changed);
    connect(m_verticalFlip, &QCheckBox::toggled, this, changed);
    connect(m_enabled, &QCheckBox::toggled, this, changed);
    connect(m_fillMode, &QComboBox::currentTextChanged, this, changed);
    connect(reseedButton, &QPushButton::clicked, this, &AugmentPanel::reseed);
    connect(saveButton, &QPushButton::clicked, this, [this] {
        const QString folder = QFileDialog::getExistingDirectory(this, tr("Save previews to"));
        if (!folder.isEmpty())
            savePreviews(folder);
    });
    connect(m_bridge, &EngineBridge::previewsReady, this, &AugmentPanel::showPreviews);
}

QDoubleSpinBox* AugmentPanel::addSpin(const QString& label, const QString& kerasName, double max,
                                      double step, double value) {
    auto* spin = new QDoubleSpinBox;
    spin->setRange(0, max);
    spin->setSingleStep(step);
    spin->setDecimals(step < 1 ? 2 : 0);
    spin->setValue(value);
    spin->setToolTip(kerasName);
    spin->setAccessibleName(label);
    spin->setObjectName(QStringLiteral("augment:") + kerasName);
    m_spins.push_back({kerasName, spin});
    return spin;
}

void AugmentPanel::setTrainingBlocked(const QString& reason) {
    m_blockedNote->setText(reason);
    m_blockedNote->setVisible(!reason.isEmpty());
    m_form->setEnabled(reason.isEmpty());
}

bool AugmentPanel::isTrainingBlocked() const {
    return !m_form->isEnabled();
}

bool AugmentPanel::setParameter(const QString& kerasName, double value) {
    for (const auto& [name, spin] : m_spins) {
        if (name == kerasName) {
            spin->setValue(value);
            return true;
        }
    }
    return false;
}

AugmentParams AugmentPanel::params() const {
    auto value = [this](const char* name) {
        for (const auto& [n, spin] : m_spins)
            if (n == QLatin1String(name))
                return spin->value();
        return 0.0;
    };
    AugmentParams p;
    p.rotationRange = value("rotation_range");
    p.widthShiftRange = value("width_shift_range");
    p.heightShiftRange = value("height_shift_range");
    p.shearRange = value("shear_range");
    p.setZoomRange(value("zoom_range"));
    p.brightnessLow = value("brightness_range[0]");
    p.brightnessHigh = std::max(p.brightnessLow, value("brightness_range[1]"));
    p.channelShiftRange = value("channel_shift_range");
    p.fillMode = parseFillMode(m_fillMode->currentText().toStdString());
    p.cval = value("cval");
    p.horizontalFlip = m_horizontalFlip->isChecked();
    p.verticalFlip = m_verticalFlip->isChecked();
    return p;
}

bool AugmentPanel::augmentationEnabled() const {
    return m_enabled->isChecked();
}

void AugmentPanel::setImage(const QString& path, const QString& className) {
    m_imagePath = path;
    m_className = className;
    requestPreviews();
}

void AugmentPanel::reseed() {
    m_seed = QRandomGenerator::global()->generate64();
    requestPreviews();
}

void AugmentPanel::requestPreviews() {
    if (m_imagePath.isEmpty())
        return;
    AugmentParams p = augmentationEnabled() ? params() : AugmentParams{};
    m_bridge->requestPreviews(m_imagePath, p, kPreviewCount, m_seed, kPreviewSize);
}

void AugmentPanel::showPreviews(const QList<QImage>& images) {
    m_previews = images;
    for (int i = 0; i < m_tiles.size(); ++i)
        m_tiles[i]->setPixmap(i < images.size() ? QPixmap::fromImage(images[i]) : QPixmap());
    Q_EMIT previewsUpdated();
}

int AugmentPanel::savePreviews(const QString& folder) const {
    QDir().mkpath(folder);
    const QString prefix = m_className.isEmpty() ? QStringLiteral("preview") : m_className;
    int written = 0;
    for (int i = 0; i < m_previews.size(); ++i) {
        const QString name = QStringLiteral("%1_%2_%3.jpeg")
                                 .arg(prefix)
                                 .arg(i)
                                 .arg(QRandomGenerator::global()->bounded(10'000'000));
        if (m_previews[i].save(QDir(folder).filePath(name), "JPEG", 95))
            ++written;
    }
    return written;
}

}  // namespace convscope::ui
