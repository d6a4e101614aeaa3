#include "engine/workers.h"

#include "engine/failure.h"

#include "augment/previews.h"
#include "data/imagedecoder.h"
#include "error.h"
#include "inspect/predictor.h"
#include "io/pretrained.h"
#include "models/modelconfig.h"
#include "train/finetuner.h"
#include "train/trainer.h"

#include <QFileInfo>
#include <QMetaObject>

namespace convscope::ui {

namespace {

QString text(const std::exception& e) {
    return QString::fromStdString(e.what());
}

/// Hands trainer events to the TrainWorker's signals (queued to the GUI by Qt).
class SignalObserver : public TrainingObserver {
public:
    explicit SignalObserver(TrainWorker* worker) : m_worker(worker) {}
    void onProgress(Phase phase, std::size_t done, std::size_t total) override {
        Q_EMIT m_worker->progress(int(phase), int(done), int(total));
    }
    void onMessage(const std::string& t) override {
        Q_EMIT m_worker->message(QString::fromStdString(t));
    }
    void onDeviceChosen(const std::string& device, const std::string& precision) override {
        Q_EMIT m_worker->deviceChosen(QString::fromStdString(device),
                                      QString::fromStdString(precision));
    }
    void onBatchEnd(const BatchEnd& e) override { Q_EMIT m_worker->batchEnded(e); }
    void onEpochEnd(const EpochEnd& e) override { Q_EMIT m_worker->epochEnded(e); }
    void onCheckpoint(const std::string& p) override {
        Q_EMIT m_worker->checkpointWritten(QString::fromStdString(p));
    }
    void onPaused(bool paused) override { Q_EMIT m_worker->paused(paused); }

private:
    TrainWorker* m_worker;
};

}  // namespace

JobWorker::JobWorker() = default;
JobWorker::~JobWorker() = default;

void JobWorker::importFolder(const QString& path, double validationFraction, quint64 seed,
                             std::shared_ptr<std::atomic<bool>> cancel) {
    try {
        ScanOptions options;
        options.validationFraction = validationFraction;
        options.seed = seed;
        options.cancel = cancel.get();
        options.progress = [this](std::size_t done, std::size_t total) {
            Q_EMIT importProgress(int(done), int(total));
        };
        auto index =
            std::make_shared<DatasetIndex>(DatasetIndex::scan(path.toStdString(), options));
        Q_EMIT imported(index);
    } catch (...) {
        Q_EMIT failed(QStringLiteral("Import"), currentFailure(QStringLiteral("Import")));
    }
}

void JobWorker::makePreviews(const QString& imagePath, const AugmentParams& params, int count,
                             quint64 seed, int size, int generation,
                             std::shared_ptr<std::atomic<int>> latest) {
    if (generation != latest->load())
        return;  // a newer request is queued behind this one
    try {
        DecodeOptions decode;
        decode.width = decode.height = size;
        const RgbImage source = decodeRgbImage(imagePath.toStdString(), decode);
        QList<QImage> images;
        for (const RgbImage& img : augmentPreviews(source, params, count, seed))
            images.push_back(toQImage(img));
        if (generation == latest->load())
            Q_EMIT previewsReady(images);
    } catch (...) {
        Q_EMIT failed(QStringLiteral("Augmentation preview"),
                      currentFailure(QStringLiteral("Augmentation preview")));
    }
}

Predictor& JobWorker::predictorFor(const QString& weightsPath) {
    const qint64 stamp = QFileInfo(weightsPath).lastModified().toMSecsSinceEpoch();
    if (!m_predictor || weightsPath != m_predictorPath || stamp != m_predictorStamp) {
        m_predictor = std::make_unique<Predictor>(weightsPath.toStdString());
        // The GPU when there is one (float32: the numbers match the command line's).
        m_predictor->setDevice(DeviceChoice{}, Precision::Fp32);
        m_predictorPath = weightsPath;
        m_predictorStamp = stamp;
    }
    return *m_predictor;
}

void JobWorker::classify(const QString& weightsPath, const QString& imagePath) {
    try {
        Predictor& predictor = predictorFor(weightsPath);
        const Prediction p = predictor.predictFiles({imagePath.toStdString()}).front();
        if (!p.error.empty())
            throw Error(imagePath.toStdString(), p.error);
        Classification c;
        c.imagePath = imagePath;
        DecodeOptions preview;
        preview.width = preview.height = 200;
        preview.keepAspect = true;
        c.preview = toQImage(decodeRgbImage(imagePath.toStdString(), preview));
        for (const auto& n : predictor.metadata().classNames)
            c.classNames.push_back(QString::fromStdString(n));
        c.probabilities = QVector<float>(p.probabilities.begin(), p.probabilities.end());
        c.gapHead = predictor.metadata().model.head == Head::GlobalAveragePool;
        Q_EMIT classified(c);
    } catch (...) {
        Q_EMIT failed(QStringLiteral("Classify"), currentFailure(QStringLiteral("Classify")));
    }
}

void JobWorker::evaluate(const QString& weightsPath, const QString& dataDir,
                         double validationFraction, quint64 seed) {
    try {
        Predictor& predictor = predictorFor(weightsPath);
        const Evaluation e =
            predictor.evaluate(dataDir.toStdString(), Split::Validation, validationFraction, seed);
        QStringList names;
        for (const auto& n : predictor.metadata().classNames)
            names.push_back(QString::fromStdString(n));
        Q_EMIT evaluated(e, names);
    } catch (...) {
        Q_EMIT failed(QStringLiteral("Evaluate"), currentFailure(QStringLiteral("Evaluate")));
    }
}

void JobWorker::describeLayers(const ModelConfig& model) {
    try {
        Q_EMIT layersReady(model, convscope::describeLayers(model));
    } catch (...) {
        Q_EMIT failed(QStringLiteral("Layer list"), currentFailure(QStringLiteral("Layer list")));
    }
}

void JobWorker::describeWeights(const QString& path) {
    try {
        if (const auto m = readPretrainedMetadata(path.toStdString()))
            Q_EMIT weightsDescribed(path, m->model);
    } catch (...) {
        Q_EMIT failed(QStringLiteral("Starting weights"),
                      currentFailure(QStringLiteral("Starting weights")));
    }
}

void TrainWorker::pause() {
    QMutexLocker lock(&m_mutex);
    if (m_active)
        m_active->pause();
    if (m_activeRecipe)
        m_activeRecipe->pause();
}

void TrainWorker::resume() {
    QMutexLocker lock(&m_mutex);
    if (m_active)
        m_active->resume();
    if (m_activeRecipe)
        m_activeRecipe->resume();
}

void TrainWorker::cancel() {
    QMutexLocker lock(&m_mutex);
    if (m_active)
        m_active->cancel();
    else if (m_activeRecipe)
        m_activeRecipe->cancel();
    else
        m_cancelPending = true;
}

void TrainWorker::runFineTune(const FineTuneConfig& config, bool resumeRun) {
    SignalObserver observer(this);
    try {
        FineTuner recipe(resumeRun ? FineTuner::resumeConfig(config.base.runDir) : config,
                         &observer, resumeRun);
        {
            QMutexLocker lock(&m_mutex);
            m_activeRecipe = &recipe;
            if (m_cancelPending)
                recipe.cancel();
            m_cancelPending = false;
        }
        TrainingResult result;
        try {
            result = recipe.run();
        } catch (...) {
            QMutexLocker lock(&m_mutex);
            m_activeRecipe = nullptr;
            throw;
        }
        {
            QMutexLocker lock(&m_mutex);
            m_activeRecipe = nullptr;
        }
        Q_EMIT finished(result);
    } catch (...) {
        const QString why = currentFailure(QStringLiteral("Fine-tuning"));
        Q_EMIT failed(QStringLiteral("Fine-tuning"), why);
        TrainingResult none;
        none.error = why.toStdString();
        Q_EMIT finished(none);
    }
}

void TrainWorker::run(const TrainConfig& config, bool resumeRun) {
    SignalObserver observer(this);
    try {
        TrainConfig effective = resumeRun ? Trainer::resumeConfig(config.runDir) : config;
        // Resuming with another batch size (after running out of memory); 0 keeps the run's.
        if (resumeRun && config.batchSize > 0)
            effective.batchSize = config.batchSize;
        Trainer trainer(effective, &observer, resumeRun);
        {
            QMutexLocker lock(&m_mutex);
            m_active = &trainer;
            if (m_cancelPending)
                trainer.cancel();
            m_cancelPending = false;
        }
        TrainingResult result;
        try {
            result = trainer.run();
        } catch (...) {
            QMutexLocker lock(&m_mutex);
            m_active = nullptr;
            throw;
        }
        {
            QMutexLocker lock(&m_mutex);
            m_active = nullptr;
        }
        Q_EMIT finished(result);
    } catch (const OutOfMemory& e) {
        Q_EMIT outOfMemory(QString::fromStdString(config.runDir), text(e), e.largestBatch());
        TrainingResult none;
        none.error = e.what();
        Q_EMIT finished(none);
    } catch (...) {
        const QString why = currentFailure(QStringLiteral("Training"));
        Q_EMIT failed(QStringLiteral("Training"), why);
        TrainingResult none;
        none.error = why.toStdString();
        Q_EMIT finished(none);
    }
}

bool ThumbnailWorker::enqueue(const QString& path, int size) {
    QMutexLocker lock(&m_mutex);
    m_queue.emplace_back(path, size);
    if (m_queue.size() > 512)
        m_queue.pop_front();  // scrolled far away: the oldest are moot
    const bool schedule = !m_scheduled;
    m_scheduled = true;
    return schedule;
}

void ThumbnailWorker::drain() {
    for (;;) {
        std::pair<QString, int> request;
        {
            QMutexLocker lock(&m_mutex);
            if (m_queue.empty()) {
                m_scheduled = false;
                return;
            }
            request = m_queue.back();  // newest first: what the user looks at now
            m_queue.pop_back();
        }
        try {
            DecodeOptions decode;
            decode.width = decode.height = request.second;
            decode.keepAspect = true;
            Q_EMIT ready(request.first,
                         toQImage(decodeRgbImage(request.first.toStdString(), decode)));
        } catch (...) {
            Q_EMIT ready(request.first, QImage());  // the view keeps its placeholder
        }
    }
}

}  // namespace convscope::ui
