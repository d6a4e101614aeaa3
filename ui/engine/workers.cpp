#include "ui/engine/workers.h"

#include "ui/engine/failure.h"

#include "augment/previews.h"
#include "data/imagedecoder.h"
#include "error.h"
#include "inspect/predictor.h"
#include "io/onnxexport.h"
#include "io/pretrained.h"
#include "models/modelconfig.h"
#include "report/runreport.h"
#include "train/finetuner.h"
#include "train/trainer.h"
#include "train/trainingrun.h"
#include "util/atomicfile.h"

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

JobWorker::JobWorker()
    : m_predictors([](const QString& path) {
          auto predictor = std::make_unique<Predictor>(path.toStdString());
          // The GPU when there is one (float32: the numbers match the command line's).
          predictor->setDevice(DeviceChoice{}, Precision::Fp32);
          return predictor;
      }) {}
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
        reportFailure(QStringLiteral("Import"), Origin::User);
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
        reportFailure(QStringLiteral("Augmentation preview"), Origin::Background);
    }
}

void JobWorker::classify(const QString& weightsPath, const QString& imagePath) {
    try {
        Predictor& predictor = m_predictors.get(weightsPath);
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
        reportFailure(QStringLiteral("Classify"), Origin::User);
    }
}

void JobWorker::evaluate(const QString& weightsPath, const QString& dataDir,
                         double validationFraction, quint64 seed,
                         std::shared_ptr<std::atomic<bool>> cancel) {
    if (cancel->load()) {  // cancelled or superseded before it started
        Evaluation none;
        none.cancelled = true;
        Q_EMIT evaluated(none, {});
        return;
    }
    try {
        Predictor& predictor = m_predictors.get(weightsPath);
        const Evaluation e = predictor.evaluate(dataDir.toStdString(), Split::Validation,
                                                validationFraction, seed, 32, cancel.get());
        QStringList names;
        for (const auto& n : predictor.metadata().classNames)
            names.push_back(QString::fromStdString(n));
        Q_EMIT evaluated(e, names);
    } catch (...) {
        reportFailure(QStringLiteral("Evaluate"), Origin::User);
    }
}

void JobWorker::listRuns(const QString& workspace) {
    try {
        Q_EMIT runsListed(workspace, convscope::listRuns(workspace.toStdString()));
    } catch (...) {
        reportFailure(QStringLiteral("Runs"), Origin::Background);
    }
}

void JobWorker::labelRun(const QString& runDir, const QString& name, const QString& note) {
    try {
        convscope::labelRun(runDir.toStdString(), name.toStdString(), note.toStdString());
        Q_EMIT runLabelled(runDir);
    } catch (...) {
        reportFailure(QStringLiteral("Rename"), Origin::User);
    }
}

void JobWorker::exportReport(const QString& runDir, const QString& outPath) {
    try {
        const std::string html = reportHtml(gatherRunReport(runDir.toStdString()));
        // HTML is written here; a PDF is laid out and printed on the GUI thread (Qt's text
        // layout), from the page handed back.
        if (outPath.endsWith(QLatin1String(".pdf"), Qt::CaseInsensitive)) {
            Q_EMIT reportMade(runDir, outPath, QString::fromStdString(html));
        } else {
            writeTextFileAtomically(outPath.toStdString(), html);
            Q_EMIT reportMade(runDir, outPath, QString());
        }
    } catch (...) {
        reportFailure(QStringLiteral("Export report"), Origin::User);
    }
}

void JobWorker::exportOnnx(const QString& weightsPath, const QString& outPath) {
    try {
        const OnnxModelInfo info =
            convscope::exportOnnx(weightsPath.toStdString(), outPath.toStdString());
        const auto names = info.metadata.find("class_names");
        Q_EMIT onnxExported(outPath,
                            tr("ONNX opset %1, %2 parameters, classes %3")
                                .arg(info.opset)
                                .arg(info.parameters)
                                .arg(names == info.metadata.end()
                                         ? QString()
                                         : QString::fromStdString(names->second)));
    } catch (...) {
        reportFailure(QStringLiteral("Export ONNX"), Origin::User);
    }
}

void JobWorker::followRun(const QString& runDir) {
    try {
        FollowedRun run;
        run.summary = describeRun(runDir.toStdString());
        run.history = readRunHistory(runDir.toStdString());
        Q_EMIT runFollowed(run);
    } catch (...) {
        reportFailure(QStringLiteral("Follow run"), Origin::Background);
    }
}

void JobWorker::compareRuns(const QStringList& runDirs, const QStringList& names) {
    try {
        RunComparison c;
        c.runDirs = runDirs;
        c.names = names;
        std::vector<std::string> dirs;
        for (const QString& dir : runDirs) {
            dirs.push_back(dir.toStdString());
            c.histories.push_back(readRunHistory(dirs.back()));
            QString note;
            std::optional<ConfusionRecord> confusion;
            try {
                confusion = readConfusionRecord(dirs.back());
                if (!confusion)
                    note =
                        tr("No confusion matrix recorded yet: the run has not finished an "
                           "epoch, or it was trained before ConvScope 0.2.1 (Export "
                           "report… evaluates it again).");
            } catch (const Error& e) {
                note = QString::fromStdString(e.what());
            }
            c.confusions.push_back(std::move(confusion));
            c.confusionNotes << note;
        }
        c.differences = differingSettings(dirs);
        Q_EMIT runsCompared(c);
    } catch (...) {
        reportFailure(QStringLiteral("Compare"), Origin::User);
    }
}

void JobWorker::describeLayers(const ModelConfig& model) {
    try {
        Q_EMIT layersReady(model, convscope::describeLayers(model));
    } catch (...) {
        reportFailure(QStringLiteral("Layer list"), Origin::Background);
    }
}

void JobWorker::describeWeights(const QString& path) {
    try {
        if (const auto m = readPretrainedMetadata(path.toStdString()))
            Q_EMIT weightsDescribed(path, m->model);
    } catch (...) {
        reportFailure(QStringLiteral("Starting weights"), Origin::User);
    }
}

void TrainWorker::pause() {
    QMutexLocker lock(&m_mutex);
    if (m_active)
        m_active->pause();
}

void TrainWorker::resume() {
    QMutexLocker lock(&m_mutex);
    if (m_active)
        m_active->resume();
}

void TrainWorker::cancel() {
    QMutexLocker lock(&m_mutex);
    if (m_active)
        m_active->cancel();
    else
        m_cancelPending = true;
}

void TrainWorker::run(const TrainConfig& config) {
    execute(
        QStringLiteral("Training"), QString::fromStdString(config.runDir),
        [&](TrainingObserver* observer) { return std::make_unique<Trainer>(config, observer); });
}

void TrainWorker::runFineTune(const FineTuneConfig& config) {
    execute(
        QStringLiteral("Fine-tuning"), QString::fromStdString(config.base.runDir),
        [&](TrainingObserver* observer) { return std::make_unique<FineTuner>(config, observer); });
}

void TrainWorker::resumeRun(const QString& runDir, int batchSize) {
    execute(QStringLiteral("Resume"), runDir, [&](TrainingObserver* observer) {
        return resumeTrainingRun(runDir.toStdString(), observer, batchSize);
    });
}

void TrainWorker::execute(const QString& what, const QString& runDir, const RunFactory& make) {
    SignalObserver observer(this);
    try {
        const std::unique_ptr<TrainingRun> job = make(&observer);
        Q_EMIT started(QString::fromStdString(job->runDirectory()), job->plannedEpochs());
        {
            QMutexLocker lock(&m_mutex);
            m_active = job.get();
            if (m_cancelPending)
                job->cancel();
            m_cancelPending = false;
        }
        TrainingResult result;
        try {
            result = job->run();
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
        Q_EMIT outOfMemory(runDir, text(e), e.largestBatch());
        TrainingResult none;
        none.error = e.what();
        Q_EMIT finished(none);
    } catch (...) {
        const QString why = currentFailure(what);
        Q_EMIT failed(what, why, Origin::User);
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
