#include "engine/enginebridge.h"

#include "engine/workers.h"

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

EngineBridge::EngineBridge(QObject* parent)
    : QObject(parent),
      m_jobThread(new QThread(this)),
      m_trainThread(new QThread(this)),
      m_thumbnailThread(new QThread(this)),
      m_jobs(new JobWorker),
      m_trainer(new TrainWorker),
      m_thumbnails(new ThumbnailWorker),
      m_importCancel(std::make_shared<std::atomic<bool>>(false)),
      m_previewGeneration(std::make_shared<std::atomic<int>>(0)) {
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
    qRegisterMetaType<std::vector<LayerInfo>>();

    m_jobThread->setObjectName(QStringLiteral("convscope-jobs"));
    m_trainThread->setObjectName(QStringLiteral("convscope-training"));
    m_thumbnailThread->setObjectName(QStringLiteral("convscope-thumbnails"));
    m_jobs->moveToThread(m_jobThread);
    m_trainer->moveToThread(m_trainThread);
    m_thumbnails->moveToThread(m_thumbnailThread);
    connect(m_jobThread, &QThread::finished, m_jobs, &QObject::deleteLater);
    connect(m_trainThread, &QThread::finished, m_trainer, &QObject::deleteLater);
    connect(m_thumbnailThread, &QThread::finished, m_thumbnails, &QObject::deleteLater);

    connect(m_jobs, &JobWorker::importProgress, this, &EngineBridge::importProgress);
    connect(m_jobs, &JobWorker::imported, this, &EngineBridge::imported);
    connect(m_jobs, &JobWorker::previewsReady, this, &EngineBridge::previewsReady);
    connect(m_jobs, &JobWorker::classified, this, &EngineBridge::classified);
    connect(m_jobs, &JobWorker::evaluated, this, &EngineBridge::evaluated);
    connect(m_jobs, &JobWorker::layersReady, this, &EngineBridge::layersReady);
    connect(m_jobs, &JobWorker::failed, this, &EngineBridge::failed);
    connect(m_trainer, &TrainWorker::message, this, &EngineBridge::trainingMessage);
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
}

EngineBridge::~EngineBridge() {
    m_importCancel->store(true);
    m_trainer->cancel();
    for (QThread* t : {m_jobThread, m_trainThread, m_thumbnailThread}) {
        t->requestInterruption();
        t->quit();
    }
    for (QThread* t : {m_jobThread, m_trainThread, m_thumbnailThread})
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

void EngineBridge::startTraining(const TrainConfig& config, bool resume) {
    if (m_training)
        return;
    m_training = true;
    QMetaObject::invokeMethod(
        m_trainer, [=, trainer = m_trainer] { trainer->run(config, resume); },
        Qt::QueuedConnection);
}

void EngineBridge::startFineTune(const FineTuneConfig& config, bool resume) {
    if (m_training)
        return;
    m_training = true;
    QMetaObject::invokeMethod(
        m_trainer, [=, trainer = m_trainer] { trainer->runFineTune(config, resume); },
        Qt::QueuedConnection);
}

void EngineBridge::requestLayers(const ModelConfig& model) {
    QMetaObject::invokeMethod(
        m_jobs, [=, jobs = m_jobs] { jobs->describeLayers(model); }, Qt::QueuedConnection);
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
    QMetaObject::invokeMethod(
        m_jobs,
        [=, jobs = m_jobs] { jobs->evaluate(weightsPath, dataDir, validationFraction, seed); },
        Qt::QueuedConnection);
}

void EngineBridge::requestThumbnail(const QString& path, int size) {
    if (m_thumbnails->enqueue(path, size))
        QMetaObject::invokeMethod(m_thumbnails, &ThumbnailWorker::drain, Qt::QueuedConnection);
}

}  // namespace convscope::ui
