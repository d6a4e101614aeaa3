#pragma once

// The workers behind EngineBridge; each lives on its own thread. Internal to ui/engine.

#include "ui/engine/enginebridge.h"
#include "ui/engine/failure.h"
#include "ui/engine/filebackedcache.h"

#include <QMutex>
#include <QObject>

#include <deque>
#include <functional>
#include <memory>
#include <optional>

namespace convscope {
class Predictor;
class TrainingObserver;
class TrainingRun;
}  // namespace convscope

namespace convscope::ui {

class JobWorker : public QObject {
    Q_OBJECT
public:
    JobWorker();
    ~JobWorker() override;

public:  // run on the worker thread (queued through QMetaObject::invokeMethod)
    void importFolder(const QString& path, double validationFraction, quint64 seed,
                      std::shared_ptr<std::atomic<bool>> cancel);
    void makePreviews(const QString& imagePath, const convscope::AugmentParams& params, int count,
                      quint64 seed, int size, int generation,
                      std::shared_ptr<std::atomic<int>> latest);
    void classify(const QString& weightsPath, const QString& imagePath);
    void evaluate(const QString& weightsPath, const QString& dataDir, double validationFraction,
                  quint64 seed, std::shared_ptr<std::atomic<bool>> cancel);
    void describeLayers(const convscope::ModelConfig& model);
    void describeWeights(const QString& path);
    void listRuns(const QString& workspace);
    void compareRuns(const QStringList& runDirs, const QStringList& names);
    void labelRun(const QString& runDir, const QString& name, const QString& note);
    void exportReport(const QString& runDir, const QString& outPath);
    void exportOnnx(const QString& weightsPath, const QString& outPath);
    void followRun(const QString& runDir);

Q_SIGNALS:
    void importProgress(int done, int total);
    void imported(convscope::ui::DatasetPtr dataset);
    void previewsReady(const QList<QImage>& images);
    void classified(const convscope::ui::Classification& result);
    void evaluated(const convscope::Evaluation& evaluation, const QStringList& classNames);
    void layersReady(const convscope::ModelConfig& model,
                     const std::vector<convscope::LayerInfo>& layers);
    void weightsDescribed(const QString& path, const convscope::ModelConfig& model);
    void runsListed(const QString& workspace, const std::vector<convscope::RunSummary>& runs);
    void runsCompared(const convscope::ui::RunComparison& comparison);
    void runLabelled(const QString& runDir);
    void reportMade(const QString& runDir, const QString& outPath, const QString& html);
    void onnxExported(const QString& outPath, const QString& summary);
    void runFollowed(const convscope::ui::FollowedRun& run);
    void failed(const QString& what, const QString& message, convscope::ui::Origin origin);

private:
    /// failed() with the reason of the exception being handled; call in a catch block.
    void reportFailure(const QString& what, Origin origin) {
        Q_EMIT failed(what, currentFailure(what), origin);
    }
    /// The last weights used, reloaded when the file changes.
    FileBackedCache<convscope::Predictor> m_predictors;
};

class TrainWorker : public QObject {
    Q_OBJECT
public:
    /// Thread-safe: called from the GUI thread while run() blocks the worker thread.
    void pause();
    void resume();
    void cancel();

public:  // run on the worker thread (queued through QMetaObject::invokeMethod)
    void run(const convscope::TrainConfig& config);
    void runFineTune(const convscope::FineTuneConfig& config);
    /// Continues the run in `runDir`, plain or recipe; its configuration is read here, off
    /// the GUI thread. batchSize > 0 replaces a plain run's batch size.
    void resumeRun(const QString& runDir, int batchSize);

Q_SIGNALS:
    /// The run is set up (its configuration read) and about to start.
    void started(const QString& runDir, int plannedEpochs);
    void message(const QString& text);
    void progress(int phase, int done, int total);
    void batchEnded(const convscope::BatchEnd& event);
    void epochEnded(const convscope::EpochEnd& event);
    void checkpointWritten(const QString& path);
    void paused(bool paused);
    void finished(const convscope::TrainingResult& result);
    void failed(const QString& what, const QString& message, convscope::ui::Origin origin);
    /// Training ran out of memory and stopped at its last checkpoint; `largestBatch` fits (0:
    /// none does).
    void outOfMemory(const QString& runDir, const QString& message, int largestBatch);
    void deviceChosen(const QString& device, const QString& precision);

private:
    using RunFactory =
        std::function<std::unique_ptr<convscope::TrainingRun>(convscope::TrainingObserver*)>;
    /// The one path every job takes: make it, run it, report how it ended.
    void execute(const QString& what, const QString& runDir, const RunFactory& make);

    QMutex m_mutex;
    convscope::TrainingRun* m_active = nullptr;  // guarded by m_mutex
    bool m_cancelPending = false;                // guarded by m_mutex
};

class ThumbnailWorker : public QObject {
    Q_OBJECT
public:
    /// Thread-safe; returns true when the worker needs a drain() call queued.
    bool enqueue(const QString& path, int size);

public:  // run on the worker thread (queued through QMetaObject::invokeMethod)
    void drain();

Q_SIGNALS:
    void ready(const QString& path, const QImage& image);

private:
    QMutex m_mutex;
    std::deque<std::pair<QString, int>> m_queue;  // guarded; newest at the back
    bool m_scheduled = false;                     // guarded
};

}  // namespace convscope::ui
