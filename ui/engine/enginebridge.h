#pragma once

#include "augment/augmentparams.h"
#include "data/datasetindex.h"
#include "data/rgbimage.h"
#include "models/modelconfig.h"
#include "train/evaluation.h"
#include "train/finetuner.h"
#include "train/runcatalog.h"
#include "train/trainconfig.h"
#include "train/trainingobserver.h"
#include "ui/engine/inspection.h"
#include "ui/runs/comparedialog.h"
#include "ui/runs/followedrun.h"

#include <QImage>
#include <QList>
#include <QObject>
#include <QString>
#include <QStringList>
#include <QVector>

#include <atomic>
#include <memory>

class QThread;

namespace convscope::ui {

class InspectWorker;
class JobWorker;
class TrainWorker;
class ThumbnailWorker;

using DatasetPtr = std::shared_ptr<const DatasetIndex>;

/// What the classify worker answers.
struct Classification {
    QString imagePath;
    QImage preview;  ///< the image, fitted in 200x200, decoded on the worker
    QStringList classNames;
    QVector<float> probabilities;
    bool gapHead = false;  ///< the model pools globally before its dense layer: CAM works
};

/// The one bridge between the widgets and core. Lives on the GUI thread and owns five
/// worker threads: jobs (import, previews, classify, evaluate, layer lists), training (one run
/// or fine-tuning recipe at a time), thumbnails, inspection (layers, filters, feature maps,
/// class activation maps) and activation maximization (long, cancellable). Every request is a
/// plain method; every answer a queued signal. Widgets never start threads or touch tensors.
/// pause/resume/cancel act within one batch.
class EngineBridge : public QObject {
    Q_OBJECT
public:
    explicit EngineBridge(QObject* parent = nullptr);
    ~EngineBridge() override;

    void importFolder(const QString& path, double validationFraction, quint64 seed);
    void cancelImport();

    /// `count` augmented variants of the image, `size` pixels square; a newer request makes
    /// older unfinished ones moot.
    void requestPreviews(const QString& imagePath, const convscope::AugmentParams& params,
                         int count, quint64 seed, int size);

    void startTraining(const convscope::TrainConfig& config);
    /// The two-phase fine-tuning recipe; its events come as training's do (epochs numbered on
    /// across the phases, EpochEnd::phase set). pause/resume/cancel act on it the same way.
    void startFineTune(const convscope::FineTuneConfig& config);
    /// Continues the run in `runDir` after its last checkpoint, a plain run or a recipe; the
    /// folder is read on the training thread (trainingStarted, or failed and
    /// trainingFinished). batchSize > 0 replaces a plain run's batch size.
    void resumeRun(const QString& runDir, int batchSize = 0);
    void pauseTraining();
    void resumeTraining();
    void cancelTraining();
    bool isTraining() const { return m_training; }

    /// Classifies with the weights file as it is now (a snapshot: training may go on).
    void classify(const QString& weightsPath, const QString& imagePath);
    /// Runs on its own thread; a newer request, cancelEvaluation() or closing the window stops
    /// a running one within a batch (its evaluated() then says `cancelled`).
    void evaluate(const QString& weightsPath, const QString& dataDir, double validationFraction,
                  quint64 seed);
    void cancelEvaluation();

    /// The layers of a freshly built model of `model` (names, kinds, output shapes, parameter
    /// counts), answered by layersReady on the jobs thread's behalf.
    void requestLayers(const convscope::ModelConfig& model);
    /// What a weight file decides about its model (architecture, input size), answered by
    /// startingWeightsDescribed; files that say nothing (ConvScope HDF5 without metadata) get
    /// no answer, unreadable ones a failed().
    void describeStartingWeights(const QString& path);

    /// Every run folder in `workspace` (train/runcatalog.h), answered by runsListed; read on
    /// the jobs thread. A workspace that cannot be read fails in the background.
    void listRuns(const QString& workspace);
    /// Names a run and gives it a note (its run.json), answered by runLabelled.
    void labelRun(const QString& runDir, const QString& name, const QString& note);
    /// The histories and differing settings of two or more runs, answered by runsCompared.
    void compareRuns(const QStringList& runDirs, const QStringList& names);
    /// A run's report (core/report) to `outPath`, answered by reportMade: written when it
    /// ends in .html; for .pdf the page comes back in `html` to be printed on this thread.
    void exportReport(const QString& runDir, const QString& outPath);
    /// The weights file as an ONNX model at `outPath` (io/onnxexport.h), answered by
    /// onnxExported; a failure is failed("Export ONNX", ..., Origin::User).
    void exportOnnx(const QString& weightsPath, const QString& outPath);
    /// A run's summary and epochs read again (the Training tab follows a run trained
    /// elsewhere), answered by runFollowed.
    void followRun(const QString& runDir);

    /// Thumbnails are decoded off the GUI thread, newest request first.
    void requestThumbnail(const QString& path, int size);

    /// Inspection reads the weights file as it is now (a snapshot: training may go on).
    void requestLayers(const QString& weightsPath, Origin origin = Origin::User);
    void requestFilters(const QString& weightsPath, const QString& layer,
                        convscope::FilterChannels channels,
                        convscope::FilterNormalisation normalisation, Origin origin = Origin::User);
    /// Maximization runs on its own thread, one request after another; cancelMaximize() stops
    /// the running one within a step and drops the queued ones.
    void maximizeFilter(const QString& weightsPath, const QString& layer, int filter,
                        const convscope::MaximizeOptions& options);
    void maximizeLayer(const QString& weightsPath, const QString& layer,
                       const convscope::MaximizeOptions& options, int limit = 0);
    void cancelMaximize();
    /// A newer feature-map (or class-activation) request makes older unfinished ones moot.
    void requestFeatureMaps(const QString& weightsPath, const QString& imagePath,
                            const QString& layer, Origin origin = Origin::User);
    /// classIndex < 0: the predicted class.
    void requestClassActivation(const QString& weightsPath, const QString& imagePath,
                                int classIndex, convscope::CamMethod method);

Q_SIGNALS:
    void importProgress(int done, int total);
    void imported(convscope::ui::DatasetPtr dataset);
    void previewsReady(const QList<QImage>& images);
    /// A run is set up and starts: its folder and the epochs it plans in all.
    void trainingStarted(const QString& runDir, int plannedEpochs);
    void trainingMessage(const QString& text);
    void trainingProgress(int phase, int done, int total);
    void batchEnded(const convscope::BatchEnd& event);
    void epochEnded(const convscope::EpochEnd& event);
    void checkpointWritten(const QString& path);
    /// The trainer has actually stopped between batches (true) or goes on (false).
    void trainingPaused(bool paused);
    void trainingFinished(const convscope::TrainingResult& result);
    /// Out of (GPU) memory: the run stopped at its last checkpoint; `largestBatch` fits.
    void trainingOutOfMemory(const QString& runDir, const QString& message, int largestBatch);
    /// The device and precision the run uses, "auto" settled.
    void trainingDevice(const QString& device, const QString& precision);
    void classified(const convscope::ui::Classification& result);
    void evaluated(const convscope::Evaluation& evaluation, const QStringList& classNames);
    void thumbnailReady(const QString& path, const QImage& image);
    void startingWeightsDescribed(const QString& path, const convscope::ModelConfig& model);
    void runsListed(const QString& workspace, const std::vector<convscope::RunSummary>& runs);
    void runsCompared(const convscope::ui::RunComparison& comparison);
    void runLabelled(const QString& runDir);
    void reportMade(const QString& runDir, const QString& outPath, const QString& html);
    /// `summary`: what was written, in words ("ONNX opset 17, 2 classes, ...").
    void onnxExported(const QString& outPath, const QString& summary);
    void runFollowed(const convscope::ui::FollowedRun& run);
    void layersReady(const convscope::ModelConfig& model,
                     const std::vector<convscope::LayerInfo>& layers);
    void inspectLayersReady(const convscope::ui::InspectLayers& layers);
    void filtersReady(const convscope::ui::FilterGrid& grid);
    /// done == total == 0: the request was cancelled.
    void maximizeProgress(int done, int total);
    void filterMaximized(const convscope::ui::MaximizedFilter& picture);
    void layerMaximized(const convscope::ui::MaximizedLayer& layer);
    void featureMapsReady(const convscope::ui::FeatureMapsResult& result);
    void classActivationReady(const convscope::ui::CamResult& result);
    /// `what` names the request ("Import", "Training", ...); `message` is for people.
    void failed(const QString& what, const QString& message, convscope::ui::Origin origin);

private:
    QThread* m_jobThread;
    QThread* m_trainThread;
    QThread* m_thumbnailThread;
    QThread* m_inspectThread;
    QThread* m_maximizeThread;
    QThread* m_evaluateThread;
    JobWorker* m_jobs;
    JobWorker* m_evaluator;  ///< evaluation only: it never holds up previews or classifying
    TrainWorker* m_trainer;
    ThumbnailWorker* m_thumbnails;
    InspectWorker* m_inspect;
    InspectWorker* m_maximize;
    std::shared_ptr<std::atomic<bool>> m_importCancel;
    std::shared_ptr<std::atomic<int>> m_previewGeneration;
    std::shared_ptr<std::atomic<bool>> m_maximizeCancel;
    std::shared_ptr<std::atomic<bool>> m_evaluateCancel;
    std::shared_ptr<std::atomic<int>> m_featureGeneration;
    std::shared_ptr<std::atomic<int>> m_camGeneration;
    bool m_training = false;
};

/// Copies a core RGB image into a QImage (RGB888).
QImage toQImage(const convscope::RgbImage& image);
/// Copies a QImage (any format) into a core RGB image.
convscope::RgbImage toRgbImage(const QImage& image);

}  // namespace convscope::ui

Q_DECLARE_METATYPE(convscope::ui::DatasetPtr)
Q_DECLARE_METATYPE(convscope::ui::Classification)
Q_DECLARE_METATYPE(convscope::BatchEnd)
Q_DECLARE_METATYPE(convscope::EpochEnd)
Q_DECLARE_METATYPE(convscope::TrainingResult)
Q_DECLARE_METATYPE(convscope::Evaluation)
Q_DECLARE_METATYPE(convscope::TrainConfig)
Q_DECLARE_METATYPE(convscope::AugmentParams)
Q_DECLARE_METATYPE(convscope::FineTuneConfig)
Q_DECLARE_METATYPE(convscope::ModelConfig)
Q_DECLARE_METATYPE(std::vector<convscope::RunSummary>)
Q_DECLARE_METATYPE(std::vector<convscope::LayerInfo>)
