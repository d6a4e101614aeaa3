#include "training/trainingpanel.h"

#include "engine/enginebridge.h"
#include "train/trainer.h"
#include "training/trainingplots.h"

#include <QComboBox>
#include <QDateTime>
#include <QDir>
#include <QDoubleSpinBox>
#include <QFileInfo>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QSpinBox>
#include <QStandardPaths>
#include <QVBoxLayout>

namespace convscope::ui {

namespace {

QString clockText(double seconds) {
    const qint64 s = qint64(seconds + 0.5);
    return QStringLiteral("%1:%2:%3")
        .arg(s / 3600)
        .arg((s / 60) % 60, 2, 10, QLatin1Char('0'))
        .arg(s % 60, 2, 10, QLatin1Char('0'));
}

QComboBox* combo(const QStringList& items, const QString& tip) {
    auto* c = new QComboBox;
    c->addItems(items);
    c->setToolTip(tip);
    return c;
}

}  // namespace

TrainingPanel::TrainingPanel(EngineBridge* bridge, QWidget* parent)
    : QWidget(parent),
      m_bridge(bridge),
      m_architecture(combo({QStringLiteral("small"), QStringLiteral("vgg16"),
                            QStringLiteral("resnet18"), QStringLiteral("mobilenetv2")},
                           tr("small: the Keras blog convnet (Conv32-Conv32-Conv64, Dense 64)"))),
      m_head(combo({QStringLiteral("flatten"), QStringLiteral("gap")},
                   tr("flatten + dense, or global average pooling + dense (CAM-ready)"))),
      m_size(new QSpinBox),
      m_epochCount(new QSpinBox),
      m_batch(new QSpinBox),
      m_optimizer(combo({QStringLiteral("adam"), QStringLiteral("rmsprop"), QStringLiteral("sgd")},
                        tr("optimizer"))),
      m_learningRate(new QDoubleSpinBox),
      m_device(combo({QStringLiteral("auto"), QStringLiteral("cpu"), QStringLiteral("cuda")},
                     tr("auto: the GPU when there is one"))),
      m_runDir(new QLineEdit),
      m_start(new QPushButton(tr("&Start"))),
      m_pause(new QPushButton(tr("&Pause"))),
      m_cancel(new QPushButton(tr("Cancel"))),
      m_progress(new QProgressBar),
      m_status(new QLabel(tr("Not training"))),
      m_plots(new TrainingPlots) {
    m_size->setRange(16, 512);
    m_size->setValue(64);
    m_size->setSuffix(tr(" px"));
    m_epochCount->setRange(1, 1000);
    m_epochCount->setValue(10);
    m_batch->setRange(1, 1024);
    m_batch->setValue(32);
    m_learningRate->setDecimals(5);
    m_learningRate->setRange(1e-5, 1.0);
    m_learningRate->setSingleStep(1e-4);
    m_learningRate->setValue(1e-3);
    m_runDir->setPlaceholderText(tr("run folder (made when training starts)"));

    // Settings in a compact grid above the charts, so that the charts get the room.
    auto* form = new QGridLayout;
    const QList<QPair<QString, QWidget*>> fields{{tr("Architecture"), m_architecture},
                                                 {tr("Head"), m_head},
                                                 {tr("Image size"), m_size},
                                                 {tr("Epochs"), m_epochCount},
                                                 {tr("Batch size"), m_batch},
                                                 {tr("Optimizer"), m_optimizer},
                                                 {tr("Learning rate"), m_learningRate},
                                                 {tr("Device"), m_device}};
    for (int i = 0; i < fields.size(); ++i) {
        form->addWidget(new QLabel(fields[i].first), i / 3, (i % 3) * 2);
        form->addWidget(fields[i].second, i / 3, (i % 3) * 2 + 1);
    }
    form->addWidget(new QLabel(tr("Run folder")), 2, 4);
    form->addWidget(m_runDir, 3, 0, 1, 6);
    for (int c = 1; c < 6; c += 2)
        form->setColumnStretch(c, 1);

    auto* buttons = new QHBoxLayout;
    buttons->addWidget(m_start);
    buttons->addWidget(m_pause);
    buttons->addWidget(m_cancel);
    buttons->addWidget(m_progress, 1);
    m_pause->setEnabled(false);
    m_cancel->setEnabled(false);
    m_status->setWordWrap(true);

    auto* layout = new QVBoxLayout(this);
    layout->addLayout(form);
    layout->addLayout(buttons);
    layout->addWidget(m_status);
    layout->addWidget(m_plots, 1);

    connect(m_start, &QPushButton::clicked, this, &TrainingPanel::start);
    connect(m_pause, &QPushButton::clicked, this, &TrainingPanel::togglePause);
    connect(m_cancel, &QPushButton::clicked, this, &TrainingPanel::cancel);
    connect(m_bridge, &EngineBridge::batchEnded, this, &TrainingPanel::onBatch);
    connect(m_bridge, &EngineBridge::epochEnded, this, &TrainingPanel::onEpoch);
    connect(m_bridge, &EngineBridge::trainingFinished, this, &TrainingPanel::onFinished);
    connect(m_bridge, &EngineBridge::trainingMessage, m_status, &QLabel::setText);
    connect(m_bridge, &EngineBridge::trainingPaused, this, [this](bool paused) {
        if (paused)
            m_status->setText(tr("Paused. Resume continues with the next batch."));
    });
    connect(m_bridge, &EngineBridge::trainingProgress, this,
            [this](int phase, int done, int total) {
                m_progress->setRange(0, total);
                m_progress->setValue(done);
                m_status->setText(phase == int(Phase::Scanning)
                                      ? tr("Reading %1 files…").arg(total)
                                      : tr("Decoding %1 of %2 images…").arg(done).arg(total));
            });
}

void TrainingPanel::setDataFolder(const QString& folder) {
    m_dataFolder = folder;
}

void TrainingPanel::setAugmentation(const AugmentParams& params, bool enabled) {
    m_augmentation = params;
    m_augment = enabled;
}

void TrainingPanel::setRunDirectory(const QString& dir) {
    m_runDir->setText(dir);
}
QString TrainingPanel::runDirectory() const {
    return m_runDir->text();
}

QString TrainingPanel::currentWeights() const {
    for (const char* name : {"weights.h5", "latest.h5"}) {
        const QString path = QDir(runDirectory()).filePath(QLatin1String(name));
        if (!runDirectory().isEmpty() && QFileInfo::exists(path))
            return path;
    }
    return {};
}

TrainConfig TrainingPanel::config() const {
    TrainConfig c;
    c.dataDir = m_dataFolder.toStdString();
    c.runDir = runDirectory().toStdString();
    c.model.architecture = parseArchitecture(m_architecture->currentText().toStdString());
    c.model.head = parseHead(m_head->currentText().toStdString());
    c.model.inputSize = m_size->value();
    c.epochs = m_epochCount->value();
    c.batchSize = m_batch->value();
    c.optimizer = parseOptimizer(m_optimizer->currentText().toStdString());
    c.learningRate = m_learningRate->value();
    c.device = parseDevice(m_device->currentText().toStdString());
    c.augmentation = m_augmentation;
    c.augment = m_augment;
    return c;
}

void TrainingPanel::setBasicSettings(int imageSize, int epochs, int batchSize) {
    m_size->setValue(imageSize);
    m_epochCount->setValue(epochs);
    m_batch->setValue(batchSize);
}

void TrainingPanel::setArchitecture(Architecture architecture, Head head) {
    m_architecture->setCurrentText(QString::fromLatin1(architectureName(architecture)));
    m_head->setCurrentText(QString::fromLatin1(headName(head)));
}

void TrainingPanel::start() {
    if (m_dataFolder.isEmpty()) {
        m_status->setText(
            tr("Open a dataset folder first (File > Open, or drop a folder on the window)."));
        return;
    }
    if (runDirectory().isEmpty() ||
        QFileInfo::exists(QDir(runDirectory()).filePath(QStringLiteral("config.json")))) {
        const QString base = QStandardPaths::writableLocation(QStandardPaths::AppDataLocation);
        setRunDirectory(QDir(base).filePath(
            QStringLiteral("runs/") +
            QDateTime::currentDateTime().toString(QStringLiteral("yyyyMMdd-HHmmss"))));
    }
    m_plots->clear();
    m_epochs = m_epochCount->value();
    m_bridge->startTraining(config(), false);
    setRunning(true);
}

void TrainingPanel::resumeRun(const QString& runDir) {
    try {
        m_epochs = Trainer::resumeConfig(runDir.toStdString()).epochs;
    } catch (const std::exception& e) {
        m_status->setText(QString::fromStdString(e.what()));
        return;
    }
    setRunDirectory(runDir);
    m_plots->clear();
    m_bridge->startTraining(config(), true);
    setRunning(true);
}

void TrainingPanel::togglePause() {
    m_paused = !m_paused;
    if (m_paused) {
        m_bridge->pauseTraining();
        m_status->setText(tr("Paused (the current batch finishes first)"));
    } else {
        m_bridge->resumeTraining();
    }
    m_pause->setText(m_paused ? tr("&Resume") : tr("&Pause"));
}

void TrainingPanel::cancel() {
    // Cancelling also ends a pause: the trainer wakes, sees the cancel and stops. Resuming
    // first would let one more batch run.
    m_bridge->cancelTraining();
    m_paused = false;
    m_pause->setText(tr("&Pause"));
    m_status->setText(tr("Cancelling…"));
}

void TrainingPanel::setRunning(bool running) {
    m_start->setEnabled(!running);
    m_pause->setEnabled(running);
    m_cancel->setEnabled(running);
    m_paused = false;
    m_pause->setText(tr("&Pause"));
    Q_EMIT trainingStateChanged(running);
}

void TrainingPanel::onBatch(const BatchEnd& e) {
    m_plots->addBatch(e);
    m_progress->setRange(0, int(e.batchesPerEpoch));
    m_progress->setValue(int(e.batch));
    const double perBatch = e.epochSeconds / double(std::max<std::int64_t>(1, e.batch));
    const double eta =
        perBatch * double(e.batchesPerEpoch - e.batch + e.batchesPerEpoch * (m_epochs - e.epoch));
    m_status->setText(tr("Epoch %1/%2, batch %3/%4 — loss %5, accuracy %6 — %7 images/s — ETA %8")
                          .arg(e.epoch)
                          .arg(m_epochs)
                          .arg(e.batch)
                          .arg(e.batchesPerEpoch)
                          .arg(e.loss, 0, 'f', 4)
                          .arg(e.accuracy, 0, 'f', 3)
                          .arg(e.epochImagesPerSecond, 0, 'f', 0)
                          .arg(clockText(eta)));
}

void TrainingPanel::onEpoch(const EpochEnd& e) {
    m_plots->addEpoch(e);
    m_status->setText(tr("Epoch %1: validation accuracy %2, loss %3")
                          .arg(e.epoch)
                          .arg(e.validationAccuracy, 0, 'f', 4)
                          .arg(e.validationLoss, 0, 'f', 4));
    Q_EMIT weightsAvailable(currentWeights());
}

void TrainingPanel::onFinished(const TrainingResult& r) {
    setRunning(false);
    if (r.cancelled) {
        m_status->setText(
            tr("Cancelled after %1 epochs. Resume continues from the last checkpoint.")
                .arg(r.epochsCompleted));
    } else {
        m_status->setText(tr("Finished %1 epochs: validation accuracy %2")
                              .arg(r.epochsCompleted)
                              .arg(r.finalValidationAccuracy, 0, 'f', 4));
        Q_EMIT weightsAvailable(QString::fromStdString(r.weightsPath));
    }
}

}  // namespace convscope::ui
