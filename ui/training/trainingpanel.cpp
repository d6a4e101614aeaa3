#include "ui/training/trainingpanel.h"

#include "data/decodedstore.h"
#include "models/finetuning.h"
#include "models/kerasforms.h"
#include "runtime.h"
#include "train/trainer.h"
#include "ui/engine/enginebridge.h"
#include "ui/training/batchhint.h"
#include "ui/training/layerlist.h"
#include "ui/training/networksurgery.h"
#include "ui/training/trainingplots.h"
#include "ui/training/transferadvice.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QProgressBar>
#include <QPushButton>
#include <QSpinBox>
#include <QTabWidget>
#include <QTreeWidget>
#include <QVBoxLayout>

namespace convscope::ui {

namespace {

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
      m_architecture(
          combo({QStringLiteral("small"), QStringLiteral("vgg16"), QStringLiteral("resnet18"),
                 QStringLiteral("mobilenetv2"), QStringLiteral("keras")},
                tr("small: the Keras blog convnet (Conv32-Conv32-Conv64, Dense 64); "
                   "keras: the layers of a Keras model file you open"))),
      m_surgery(new NetworkSurgery),
      m_head(combo({QStringLiteral("flatten"), QStringLiteral("gap")},
                   tr("flatten + dense, or global average pooling + dense (CAM-ready)"))),
      m_size(new QSpinBox),
      m_epochCount(new QSpinBox),
      m_batch(new QSpinBox),
      m_optimizer(combo({QStringLiteral("adam"), QStringLiteral("rmsprop"), QStringLiteral("sgd")},
                        tr("optimizer"))),
      m_learningRate(new QDoubleSpinBox),
      m_runDevice(new QLabel),
      m_runDir(new QLineEdit),
      m_startingWeights(new QLineEdit),
      m_browse(new QPushButton(tr("Browse…"))),
      m_bottleneck(new QCheckBox(tr("Bottleneck features"))),
      m_bottleneckNote(new QLabel),
      m_fineTuneEpochs(new QSpinBox),
      m_fineTune(new QPushButton(tr("Fine-tune (two phases)"))),
      m_layers(new LayerList),
      m_batchHint(new BatchHint(m_batch, m_size)),
      m_advice(new TransferAdvice),
      m_tabs(new QTabWidget),
      m_start(new QPushButton(tr("&Start"))),
      m_pause(new QPushButton(tr("&Pause"))),
      m_cancel(new QPushButton(tr("Cancel"))),
      m_progress(new QProgressBar),
      m_status(new QLabel(tr("Not training"))),
      m_plots(new TrainingPlots) {
    configureControls();
    layOut();
    connectSignals();
    requestLayers();
}

void TrainingPanel::configureControls() {
    m_size->setRange(16, 512);
    m_size->setValue(64);
    m_size->setSuffix(tr(" px"));
    m_epochCount->setRange(1, 1000);
    m_epochCount->setValue(10);
    m_batch->setRange(0, 4096);
    m_batch->setSpecialValueText(tr("auto"));
    m_batch->setValue(32);
    m_batch->setToolTip(
        tr("Images per training step. auto: the largest power of two that fits "
           "in 80% of the GPU's free memory (32 on the CPU)"));
    m_learningRate->setDecimals(5);
    m_learningRate->setRange(1e-5, 1.0);
    m_learningRate->setSingleStep(1e-4);
    m_learningRate->setValue(1e-3);
    m_runDir->setPlaceholderText(tr("run folder (made when training starts)"));
    m_startingWeights->setPlaceholderText(tr("random (or a weight file, matched by layer name)"));
    m_fineTuneEpochs->setRange(1, 1000);
    m_fineTuneEpochs->setValue(5);
    m_fineTuneEpochs->setToolTip(tr("Phase 2 of fine-tuning: epochs for the last block + head"));
    m_bottleneck->setToolTip(
        tr("Run the frozen backbone once over every image, cache its output and train only the "
           "head on it: many epochs in seconds"));
    m_fineTune->setToolTip(
        tr("Phase 1: train the head with the backbone frozen (Epochs; bottleneck features when "
           "ticked). Phase 2: unfreeze the last block and go on with SGD, learning rate 1e-4, "
           "momentum 0.9 (Fine-tune epochs)."));
    m_bottleneckNote->setWordWrap(true);
    m_bottleneckNote->setStyleSheet(QStringLiteral("color: #a05a00"));
    // Names for Help > Glossary's "Show me" links and the tooltips of help/controltips.cpp.
    const std::pair<QWidget*, const char*> named[] = {
        {m_size, "trainingImageSize"},
        {m_epochCount, "trainingEpochs"},
        {m_batch, "trainingBatchSize"},
        {m_optimizer, "trainingOptimizer"},
        {m_learningRate, "trainingLearningRate"},
        {m_startingWeights, "trainingStartingWeights"},
        {m_bottleneck, "trainingBottleneck"},
        {m_fineTuneEpochs, "trainingFineTuneEpochs"},
        {m_layers, "trainingLayers"},
        {m_layers->tree(), "trainingLayerTree"},
        {m_plots, "trainingCharts"}};
    for (const auto& [widget, name] : named)
        widget->setObjectName(QLatin1String(name));
}

void TrainingPanel::layOut() {
    // Settings in a compact grid above the charts, so that the charts get the room.
    auto* form = new QGridLayout;
    const QList<QPair<QString, QWidget*>> fields{{tr("Architecture"), m_architecture},
                                                 {tr("Head"), m_head},
                                                 {tr("Image size"), m_size},
                                                 {tr("Epochs"), m_epochCount},
                                                 {tr("Batch size"), m_batch},
                                                 {tr("Optimizer"), m_optimizer},
                                                 {tr("Learning rate"), m_learningRate},
                                                 {tr("Device"), m_devices.deviceBox()},
                                                 {tr("Precision"), m_devices.precisionBox()}};
    for (int i = 0; i < fields.size(); ++i) {
        form->addWidget(new QLabel(fields[i].first), i / 3, (i % 3) * 2);
        form->addWidget(fields[i].second, i / 3, (i % 3) * 2 + 1);
    }
    form->addWidget(new QLabel(tr("Run folder")), 3, 0);
    form->addWidget(m_runDir, 3, 1, 1, 5);
    auto* weightsRow = new QHBoxLayout;
    weightsRow->addWidget(new QLabel(tr("Starting weights")));
    weightsRow->addWidget(m_startingWeights, 1);
    weightsRow->addWidget(m_browse);
    form->addLayout(weightsRow, 4, 0, 1, 6);
    auto* transferRow = new QHBoxLayout;
    transferRow->addWidget(m_bottleneck);
    transferRow->addWidget(m_bottleneckNote, 1);
    transferRow->addWidget(new QLabel(tr("Fine-tune epochs")));
    transferRow->addWidget(m_fineTuneEpochs);
    form->addLayout(transferRow, 5, 0, 1, 6);
    form->addWidget(m_batchHint, 6, 0, 1, 6);
    form->addWidget(m_surgery, 7, 0, 1, 6);
    m_surgery->setVisible(false);
    for (int c = 1; c < 6; c += 2)
        form->setColumnStretch(c, 1);

    auto* buttons = new QHBoxLayout;
    buttons->addWidget(m_start);
    buttons->addWidget(m_pause);
    buttons->addWidget(m_cancel);
    buttons->addWidget(m_fineTune);
    buttons->addWidget(m_progress, 1);
    buttons->addWidget(m_runDevice);
    m_pause->setEnabled(false);
    m_cancel->setEnabled(false);
    m_status->setWordWrap(true);

    auto* layout = new QVBoxLayout(this);
    layout->addLayout(form);
    layout->addLayout(buttons);
    layout->addWidget(m_advice);
    layout->addWidget(m_status);
    m_tabs->addTab(m_plots, tr("Charts"));
    m_tabs->addTab(m_layers, tr("Layers"));
    layout->addWidget(m_tabs, 1);
}

void TrainingPanel::connectSignals() {
    connect(m_start, &QPushButton::clicked, this, &TrainingPanel::start);
    connect(m_fineTune, &QPushButton::clicked, this, &TrainingPanel::startFineTune);
    connect(m_browse, &QPushButton::clicked, this, [this] {
        const QString path = QFileDialog::getOpenFileName(
            this, tr("Starting weights"), m_startingWeights->text(),
            tr("Weight files (*.h5 *.hdf5 *.pth *.pt *.json);;All files (*)"));
        if (!path.isEmpty())
            setStartingWeights(path);
    });
    connect(m_bottleneck, &QCheckBox::toggled, this, [this](bool on) {
        m_bottleneckNote->setText(
            on ? tr("Bottleneck features are computed once, so augmentation cannot apply; "
                    "only the head trains.")
               : QString());
        m_layers->setMinimumFreeze(on ? QString::fromStdString(backboneOutputLayer(modelConfig()))
                                      : QString());
        Q_EMIT bottleneckChanged(on);
    });
    connect(m_architecture, &QComboBox::currentTextChanged, this,
            &TrainingPanel::onArchitectureChosen);
    connect(m_head, &QComboBox::currentTextChanged, this, &TrainingPanel::requestLayers);
    connect(m_surgery, &NetworkSurgery::changed, this, &TrainingPanel::requestLayers);
    connect(m_layers, &LayerList::cutRequested, this, [this](const QString& layer) {
        if (asKerasForm())
            m_surgery->cutAfter(layer);
    });
    connect(m_layers, &LayerList::addBlockRequested, this, &TrainingPanel::addBlock);
    connect(m_size, &QSpinBox::valueChanged, this, &TrainingPanel::requestLayers);
    connect(m_bridge, &EngineBridge::layersReady, this, &TrainingPanel::onLayers);
    connect(m_bridge, &EngineBridge::startingWeightsDescribed, this,
            &TrainingPanel::onStartingWeightsDescribed);
    connect(m_startingWeights, &QLineEdit::editingFinished, this,
            [this] { setStartingWeights(m_startingWeights->text()); });
    connect(m_pause, &QPushButton::clicked, this, &TrainingPanel::togglePause);
    connect(m_cancel, &QPushButton::clicked, this, &TrainingPanel::cancel);
    connect(m_bridge, &EngineBridge::batchEnded, this, &TrainingPanel::onBatch);
    connect(m_bridge, &EngineBridge::epochEnded, this, &TrainingPanel::onEpoch);
    connect(m_bridge, &EngineBridge::trainingFinished, this, &TrainingPanel::onFinished);
    connect(m_bridge, &EngineBridge::trainingStarted, this,
            [this](const QString&, int plannedEpochs) { onStarted(plannedEpochs); });
    connect(m_bridge, &EngineBridge::trainingMessage, m_status, &QLabel::setText);
    connect(m_bridge, &EngineBridge::trainingOutOfMemory, this, &TrainingPanel::onOutOfMemory);
    connect(m_bridge, &EngineBridge::trainingDevice, this,
            [this](const QString& device, const QString& precision) {
                m_runDevice->setText(QStringLiteral("%1 · %2").arg(device, precision));
                m_runDevice->setToolTip(tr("Where this run computes, and in what precision"));
            });
    connect(m_bridge, &EngineBridge::trainingPaused, this, [this](bool paused) {
        if (paused)
            m_status->setText(tr("Paused. Resume continues with the next batch."));
    });
    connect(
        m_bridge, &EngineBridge::trainingProgress, this, [this](int phase, int done, int total) {
            m_progress->setRange(0, total);
            m_progress->setValue(done);
            m_status->setText(phase == int(Phase::Scanning) ? tr("Reading %1 files…").arg(total)
                              : phase == int(Phase::Features)
                                  ? tr("Bottleneck features: %1 of %2 images…").arg(done).arg(total)
                                  : tr("Decoding %1 of %2 images…").arg(done).arg(total));
        });
}

ModelConfig TrainingPanel::modelConfig() const {
    ModelConfig m;
    m.architecture = parseArchitecture(m_architecture->currentText().toStdString());
    m.head = parseHead(m_head->currentText().toStdString());
    m.inputSize = m_size->value();
    m.classCount = m_classCount;
    m_surgery->apply(m);
    return m;
}

void TrainingPanel::onArchitectureChosen() {
    const bool keras = m_architecture->currentText() == QLatin1String("keras");
    if (keras && !m_surgery->hasModel() && !m_surgery->openModel()) {
        m_architecture->setCurrentText(m_lastArchitecture);  // cancelled: as it was
        return;
    }
    m_lastArchitecture = m_architecture->currentText();
    m_surgery->setVisible(keras);
    m_head->setEnabled(!keras);  // a Keras model brings its own head
    m_layers->setSurgeryEnabled(keras || hasKerasForm(modelConfig()),
                                tr("Surgery works on Keras networks: small, vgg16, or a Keras "
                                   "model (Architecture keras); %1 follows torchvision")
                                    .arg(m_architecture->currentText()));
    requestLayers();
}

bool TrainingPanel::asKerasForm() {
    if (m_architecture->currentText() == QLatin1String("keras"))
        return true;
    if (!m_surgery->adoptKerasForm(modelConfig()))
        return false;
    m_architecture->setCurrentText(QStringLiteral("keras"));
    return true;
}

void TrainingPanel::addBlock(const QString& layer) {
    const QString spec = m_surgery->askForBlock(layer);
    if (!spec.isEmpty() && asKerasForm())
        m_surgery->addBlockOrSay(spec, layer);
}

void TrainingPanel::requestLayers() {
    m_bridge->requestLayers(modelConfig());
}

void TrainingPanel::onLayers(const ModelConfig& model, const std::vector<LayerInfo>& layers) {
    const ModelConfig now = modelConfig();
    if (model.architecture != now.architecture || model.head != now.head ||
        model.inputSize != now.inputSize || model.classCount != now.classCount ||
        model.kerasModel != now.kerasModel || model.cutAfter != now.cutAfter ||
        model.append != now.append)
        return;  // an answer to an older request; a newer one is on its way
    m_layers->setLayers(layers);
    m_batchHint->setLayers(layers);
    if (bottleneck())
        m_layers->setMinimumFreeze(QString::fromStdString(backboneOutputLayer(now)));
}

void TrainingPanel::setClassCount(int classes) {
    if (classes == m_classCount || classes < 1)
        return;
    m_classCount = classes;
    requestLayers();
}

void TrainingPanel::setStartingWeights(const QString& path) {
    m_startingWeights->setText(path);
    if (!path.trimmed().isEmpty())
        m_bridge->describeStartingWeights(path.trimmed());
}

void TrainingPanel::onStartingWeightsDescribed(const QString& path, const ModelConfig& model) {
    if (path != m_startingWeights->text().trimmed())
        return;  // another file was chosen since
    // The file decides the architecture and its input size, as `train --weights` does.
    const QString architecture = QString::fromUtf8(architectureName(model.architecture));
    if (model.architecture == Architecture::Keras)
        m_surgery->setModel(model.kerasModel, QFileInfo(path).fileName(), model.cutAfter,
                            model.append);
    m_architecture->setCurrentText(architecture);
    if (model.inputSize >= m_size->minimum() && model.inputSize <= m_size->maximum())
        m_size->setValue(model.inputSize);
    m_status->setText(tr("Starting weights %1: architecture %2, %3×%3 input")
                          .arg(QFileInfo(path).fileName(), architecture)
                          .arg(m_size->value()));
}

void TrainingPanel::setBottleneck(bool on) {
    m_bottleneck->setChecked(on);
}

bool TrainingPanel::bottleneck() const {
    return m_bottleneck->isChecked();
}

void TrainingPanel::setFineTuneEpochs(int epochs) {
    m_fineTuneEpochs->setValue(epochs);
}

void TrainingPanel::showLayers(bool layers) {
    m_tabs->setCurrentWidget(layers ? static_cast<QWidget*>(m_layers) : m_plots);
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
    c.model = modelConfig();
    c.epochs = m_epochCount->value();
    c.batchSize = m_batch->value();
    c.optimizer = parseOptimizer(m_optimizer->currentText().toStdString());
    c.learningRate = m_learningRate->value();
    c.device = parseDevice(deviceChoice().toStdString());
    c.precision = parsePrecision(precisionChoice().toStdString());
    c.augmentation = m_augmentation;
    c.augment = m_augment && !bottleneck();
    c.initialWeights = m_startingWeights->text().trimmed().toStdString();
    c.freezeUpTo = m_layers->freezeUpTo().toStdString();
    c.bottleneck = bottleneck();
    c.decodedStore = DecodedStore::defaultDirectory();
    return c;
}

FineTuneConfig TrainingPanel::fineTuneConfig() const {
    FineTuneConfig f;
    f.base = config();
    f.base.augment = m_augment;  // phase 2 trains on images, where augmentation applies
    f.base.freezeUpTo.clear();   // each phase sets its own
    f.headEpochs = m_epochCount->value();
    f.fineTuneEpochs = m_fineTuneEpochs->value();
    return f;
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

QString TrainingPanel::deviceChoice() const {
    return m_devices.device();
}

QString TrainingPanel::precisionChoice() const {
    return m_devices.precision();
}

QString TrainingPanel::runDeviceText() const {
    return m_runDevice->text();
}

QStringList TrainingPanel::deviceEntries() const {
    return m_devices.deviceEntries();
}

}  // namespace convscope::ui
