#include "ui/engine/enginebridge.h"

#include "ui/engine/inspectworker.h"
#include "ui/engine/workers.h"

#include <QMetaObject>
#include <QThread>

#include <cstring>

namespace convscope::ui {

QImage toQImage(const RgbImage& image) {
    QImage out(image.width, image.height, QImage::Format_RGB888);
    for (int y = 0; y < image.height; ++y)
        std::memcpy(out.scanLine(y),
                    image.pixels.data() + std::size_t(y) * std::size_t(image.width) * 3,
                    std::size_t(image.width) * 3);
    return out;
}

RgbImage toRgbImage(const QImage& image) {
    const QImage rgb = image.convertToFormat(QImage::Format_RGB888);
    RgbImage out;
    out.width = rgb.width();
    out.height = rgb.height();
    out.pixels.resize(std::size_t(out.width) * std::size_t(out.height) * 3);
    for (int y = 0; y < out.height; ++y)
        std::memcpy(out.pixels.data() + std::size_t(y) * std::size_t(out.width) * 3,
                    rgb.constScanLine(y), std::size_t(out.width) * 3);
    return out;
}

EngineBridge::EngineBridge(QObject* parent)
    : QObject(parent),
      m_jobThread(new QThread(this)),
      m_trainThread(new QThread(this)),
      m_thumbnailThread(new QThread(this)),
      m_inspectThread(new QThread(this)),
      m_maximizeThread(new QThread(this)),
      m_evaluateThread(new QThread(this)),
      m_jobs(new JobWorker),
      m_evaluator(new JobWorker),
      m_trainer(new TrainWorker),
      m_thumbnails(new ThumbnailWorker),
      m_inspect(new InspectWorker),
      m_maximize(new InspectWorker),
      m_importCancel(std::make_shared<std::atomic<bool>>(false)),
      m_previewGeneration(std::make_shared<std::atomic<int>>(0)),
      m_maximizeCancel(std::make_shared<std::atomic<bool>>(false)),
      m_evaluateCancel(std::make_shared<std::atomic<bool>>(false)),
      m_featureGeneration(std::make_shared<std::atomic<int>>(0)),
      m_camGeneration(std::make_shared<std::atomic<int>>(0)) {
    qRegisterMetaType<DatasetPtr>();
    qRegisterMetaType<Classification>();
    qRegisterMetaType<BatchEnd>();
    qRegisterMetaType<EpochEnd>();
    qRegisterMetaType<TrainingResult>();
    qRegisterMetaType<Evaluation>();
    qRegisterMetaType<TrainConfig>();
    qRegisterMetaType<AugmentParams>();
    qRegisterMetaType<FineTuneConfig>();
    qRegisterMetaType<ModelConfig>();
    qRegisterMetaType<Origin>();
    qRegisterMetaType<std::vector<RunSummary>>();
    qRegisterMetaType<RunComparison>();
    qRegisterMetaType<FollowedRun>();
    qRegisterMetaType<std::vector<LayerInfo>>();
    qRegisterMetaType<InspectLayers>();
    qRegisterMetaType<FilterGrid>();
    qRegisterMetaType<MaximizedFilter>();
    qRegisterMetaType<MaximizedLayer>();
    qRegisterMetaType<FeatureMapsResult>();
    qRegisterMetaType<CamResult>();
    qRegisterMetaType<MaximizeOptions>();

    m_jobThread->setObjectName(QStringLiteral("convscope-jobs"));
    m_trainThread->setObjectName(QStringLiteral("convscope-training"));
    m_thumbnailThread->setObjectName(QStringLiteral("convscope-thumbnails"));
    m_inspectThread->setObjectName(QStringLiteral("convscope-inspect"));
    m_maximizeThread->setObjectName(QStringLiteral("convscope-maximize"));
    m_inspect->moveToThread(m_inspectThread);
    m_maximize->moveToThread(m_maximizeThread);
    connect(m_inspectThread, &QThread::finished, m_inspect, &QObject::deleteLater);
    connect(m_maximizeThread, &QThread::finished, m_maximize, &QObject::deleteLater);
    for (InspectWorker* w : {m_inspect, m_maximize}) {
        connect(w, &InspectWorker::layersReady, this, &EngineBridge::inspectLayersReady);
        connect(w, &InspectWorker::filtersReady, this, &EngineBridge::filtersReady);
        connect(w, &InspectWorker::maximizeProgress, this, &EngineBridge::maximizeProgress);
        connect(w, &InspectWorker::filterMaximized, this, &EngineBridge::filterMaximized);
        connect(w, &InspectWorker::layerMaximized, this, &EngineBridge::layerMaximized);
        connect(w, &InspectWorker::featureMapsReady, this, &EngineBridge::featureMapsReady);
        connect(w, &InspectWorker::classActivationReady, this, &EngineBridge::classActivationReady);
        connect(w, &InspectWorker::failed, this, &EngineBridge::failed);
    }
    m_jobs->moveToThread(m_jobThread);
    m_evaluateThread->setObjectName(QStringLiteral("convscope-evaluate"));
    m_evaluator->moveToThread(m_evaluateThread);
    connect(m_evaluateThread, &QThread::finished, m_evaluator, &QObject::deleteLater);
    connect(m_evaluator, &JobWorker::evaluated, this, &EngineBridge::evaluated);
    connect(m_evaluator, &JobWorker::failed, this, &EngineBridge::failed);
    m_trainer->moveToThread(m_trainThread);
    m_thumbnails->moveToThread(m_thumbnailThread);
    connect(m_jobThread, &QThread::finished, m_jobs, &QObject::deleteLater);
    connect(m_trainThread, &QThread::finished, m_trainer, &QObject::deleteLater);
    connect(m_thumbnailThread, &QThread::finished, m_thumbnails, &QObject::deleteLater);

    connect(m_jobs, &JobWorker::importProgress, this, &EngineBridge::importProgress);
    connect(m_jobs, &JobWorker::imported, this, &EngineBridge::imported);
    connect(m_jobs, &JobWorker::previewsReady, this, &EngineBridge::previewsReady);
    connect(m_jobs, &JobWorker::classified, this, &EngineBridge::classified);
    connect(m_jobs, &JobWorker::layersReady, this, &EngineBridge::layersReady);
    connect(m_jobs, &JobWorker::weightsDescribed, this, &EngineBridge::startingWeightsDescribed);
    connect(m_jobs, &JobWorker::runsListed, this, &EngineBridge::runsListed);
    connect(m_jobs, &JobWorker::runsCompared, this, &EngineBridge::runsCompared);
    connect(m_jobs, &JobWorker::runLabelled, this, &EngineBridge::runLabelled);
    connect(m_jobs, &JobWorker::reportMade, this, &EngineBridge::reportMade);
    connect(m_jobs, &JobWorker::onnxExported, this, &EngineBridge::onnxExported);
    connect(m_jobs, &JobWorker::runFollowed, this, &EngineBridge::runFollowed);
    connect(m_jobs, &JobWorker::failed, this, &EngineBridge::failed);
    connect(m_trainer, &TrainWorker::started, this, &EngineBridge::trainingStarted);
    connect(m_trainer, &TrainWorker::message, this, &EngineBridge::trainingMessage);
    connect(m_trainer, &TrainWorker::outOfMemory, this, &EngineBridge::trainingOutOfMemory);
    connect(m_trainer, &TrainWorker::deviceChosen, this, &EngineBridge::trainingDevice);
    connect(m_trainer, &TrainWorker::progress, this, &EngineBridge::trainingProgress);
    connect(m_trainer, &TrainWorker::batchEnded, this, &EngineBridge::batchEnded);
    connect(m_trainer, &TrainWorker::epochEnded, this, &EngineBridge::epochEnded);
    connect(m_trainer, &TrainWorker::checkpointWritten, this, &EngineBridge::checkpointWritten);
    connect(m_trainer, &TrainWorker::paused, this, &EngineBridge::trainingPaused);
    connect(m_trainer, &TrainWorker::failed, this, &EngineBridge::failed);
    connect(m_trainer, &TrainWorker::finished, this, [this](const TrainingResult& r) {
        m_training = false;
        Q_EMIT trainingFinished(r);
    });
    connect(m_thumbnails, &ThumbnailWorker::ready, this, &EngineBridge::thumbnailReady);

    m_jobThread->start();
    m_trainThread->start();
    m_thumbnailThread->start();
    m_inspectThread->start();
    m_maximizeThread->start();
    m_evaluateThread->start();
}

EngineBridge::~EngineBridge() {
    m_importCancel->store(true);
    m_trainer->cancel();
    m_maximizeCancel->store(true);
    m_evaluateCancel->store(true);
    const auto threads = {m_jobThread,     m_trainThread,    m_thumbnailThread,
                          m_inspectThread, m_maximizeThread, m_evaluateThread};
    for (QThread* t : threads) {
        t->requestInterruption();
        t->quit();
    }
    for (QThread* t : threads)
        t->wait();
}

void EngineBridge::importFolder(const QString& path, double validationFraction, quint64 seed) {
    m_importCancel->store(true);  // a new import supersedes a running one
    m_importCancel = std::make_shared<std::atomic<bool>>(false);
    auto cancel = m_importCancel;
    QMetaObject::invokeMethod(
        m_jobs, [=, jobs = m_jobs] { jobs->importFolder(path, validationFraction, seed, cancel); },
        Qt::QueuedConnection);
}

void EngineBridge::cancelImport() {
    m_importCancel->store(true);
}

void EngineBridge::requestPreviews(const QString& imagePath, const AugmentParams& params, int count,
                                   quint64 seed, int size) {
    const int generation = ++*m_previewGeneration;
    auto latest = m_previewGeneration;
    QMetaObject::invokeMethod(
        m_jobs,
        [=, jobs = m_jobs] {
            jobs->makePreviews(imagePath, params, count, seed, size, generation, latest);
        },
        Qt::QueuedConnection);
}

void EngineBridge::startTraining(const TrainConfig& config) {
    if (m_training)
        return;
    m_training = true;
    QMetaObject::invokeMethod(
        m_trainer, [=, trainer = m_trainer] { trainer->run(config); }, Qt::QueuedConnection);
}

void EngineBridge::startFineTune(const FineTuneConfig& config) {
    if (m_training)
        return;
    m_training = true;
    QMetaObject::invokeMethod(
        m_trainer, [=, trainer = m_trainer] { trainer->runFineTune(config); },
        Qt::QueuedConnection);
}

void EngineBridge::resumeRun(const QString& runDir, int batchSize) {
    if (m_training)
        return;
    m_training = true;
    QMetaObject::invokeMethod(
        m_trainer, [=, trainer = m_trainer] { trainer->resumeRun(runDir, batchSize); },
        Qt::QueuedConnection);
}

void EngineBridge::listRuns(const QString& workspace) {
    QMetaObject::invokeMethod(
        m_jobs, [=, jobs = m_jobs] { jobs->listRuns(workspace); }, Qt::QueuedConnection);
}

void EngineBridge::labelRun(const QString& runDir, const QString& name, const QString& note) {
    QMetaObject::invokeMethod(
        m_jobs, [=, jobs = m_jobs] { jobs->labelRun(runDir, name, note); }, Qt::QueuedConnection);
}

void EngineBridge::exportReport(const QString& runDir, const QString& outPath) {
    QMetaObject::invokeMethod(
        m_jobs, [=, jobs = m_jobs] { jobs->exportReport(runDir, outPath); }, Qt::QueuedConnection);
}

void EngineBridge::followRun(const QString& runDir) {
    QMetaObject::invokeMethod(
        m_jobs, [=, jobs = m_jobs] { jobs->followRun(runDir); }, Qt::QueuedConnection);
}

void EngineBridge::exportOnnx(const QString& weightsPath, const QString& outPath) {
    QMetaObject::invokeMethod(
        m_jobs, [=, jobs = m_jobs] { jobs->exportOnnx(weightsPath, outPath); },
        Qt::QueuedConnection);
}

void EngineBridge::compareRuns(const QStringList& runDirs, const QStringList& names) {
    QMetaObject::invokeMethod(
        m_jobs, [=, jobs = m_jobs] { jobs->compareRuns(runDirs, names); }, Qt::QueuedConnection);
}

void EngineBridge::requestLayers(const ModelConfig& model) {
    QMetaObject::invokeMethod(
        m_jobs, [=, jobs = m_jobs] { jobs->describeLayers(model); }, Qt::QueuedConnection);
}

void EngineBridge::describeStartingWeights(const QString& path) {
    QMetaObject::invokeMethod(
        m_jobs, [=, jobs = m_jobs] { jobs->describeWeights(path); }, Qt::QueuedConnection);
}

void EngineBridge::pauseTraining() {
    m_trainer->pause();
}
void EngineBridge::resumeTraining() {
    m_trainer->resume();
}
void EngineBridge::cancelTraining() {
    m_trainer->cancel();
}

void EngineBridge::classify(const QString& weightsPath, const QString& imagePath) {
    QMetaObject::invokeMethod(
        m_jobs, [=, jobs = m_jobs] { jobs->classify(weightsPath, imagePath); },
        Qt::QueuedConnection);
}

void EngineBridge::evaluate(const QString& weightsPath, const QString& dataDir,
                            double validationFraction, quint64 seed) {
    m_evaluateCancel->store(true);  // a new evaluation supersedes a running one
    m_evaluateCancel = std::make_shared<std::atomic<bool>>(false);
    QMetaObject::invokeMethod(
        m_evaluator,
        [=, w = m_evaluator, cancel = m_evaluateCancel] {
            w->evaluate(weightsPath, dataDir, validationFraction, seed, cancel);
        },
        Qt::QueuedConnection);
}

void EngineBridge::cancelEvaluation() {
    m_evaluateCancel->store(true);
}

void EngineBridge::requestThumbnail(const QString& path, int size) {
    if (m_thumbnails->enqueue(path, size))
        QMetaObject::invokeMethod(m_thumbnails, &ThumbnailWorker::drain, Qt::QueuedConnection);
}

void EngineBridge::requestLayers(const QString& weightsPath, Origin origin) {
    QMetaObject::invokeMethod(
        m_inspect, [=, w = m_inspect] { w->listLayers(weightsPath, origin); },
        Qt::QueuedConnection);
}

void EngineBridge::requestFilters(const QString& weightsPath, const QString& layer,
                                  FilterChannels channels, FilterNormalisation normalisation,
                                  Origin origin) {
    QMetaObject::invokeMethod(
        m_inspect,
        [=, w = m_inspect] { w->filters(weightsPath, layer, channels, normalisation, origin); },
        Qt::QueuedConnection);
}

void EngineBridge::maximizeFilter(const QString& weightsPath, const QString& layer, int filter,
                                  const MaximizeOptions& options) {
    auto cancel = m_maximizeCancel;
    QMetaObject::invokeMethod(
        m_maximize,
        [=, w = m_maximize] { w->maximizeFilter(weightsPath, layer, filter, options, cancel); },
        Qt::QueuedConnection);
}

void EngineBridge::maximizeLayer(const QString& weightsPath, const QString& layer,
                                 const MaximizeOptions& options, int limit) {
    auto cancel = m_maximizeCancel;
    QMetaObject::invokeMethod(
        m_maximize,
        [=, w = m_maximize] { w->maximizeLayer(weightsPath, layer, options, limit, cancel); },
        Qt::QueuedConnection);
}

void EngineBridge::cancelMaximize() {
    m_maximizeCancel->store(true);  // the running request and every one queued with it
    m_maximizeCancel = std::make_shared<std::atomic<bool>>(false);
}

void EngineBridge::requestFeatureMaps(const QString& weightsPath, const QString& imagePath,
                                      const QString& layer, Origin origin) {
    const int generation = ++*m_featureGeneration;
    auto latest = m_featureGeneration;
    QMetaObject::invokeMethod(
        m_inspect,
        [=, w = m_inspect] {
            w->featureMaps(weightsPath, imagePath, layer, origin, generation, latest);
        },
        Qt::QueuedConnection);
}

void EngineBridge::requestClassActivation(const QString& weightsPath, const QString& imagePath,
                                          int classIndex, CamMethod method) {
    const int generation = ++*m_camGeneration;
    auto latest = m_camGeneration;
    QMetaObject::invokeMethod(
        m_inspect,
        [=, w = m_inspect] {
            w->classActivation(weightsPath, imagePath, classIndex, method, generation, latest);
        },
        Qt::QueuedConnection);
}

}  // namespace convscope::ui
