#pragma once

#include "augment/augmentparams.h"
#include "data/rgbimage.h"
#include "data/datasetindex.h"
#include "models/modelconfig.h"
#include "train/evaluation.h"
#include "train/finetuner.h"
#include "train/trainconfig.h"
#include "train/trainingobserver.h"

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
};

/// The one bridge between the widgets and core. Lives on the GUI thread and owns three
/// worker threads: jobs (import, previews, classify, evaluate, layer lists), training (one run
/// or fine-tuning recipe at a time) and thumbnails. Every request is a plain method; every
/// answer a queued signal. Widgets never start threads or touch tensors. pause/resume/cancel
/// act within one batch.
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

    void startTraining(const convscope::TrainConfig& config, bool resume);
    /// The two-phase fine-tuning recipe; its events come as training's do (epochs numbered on
    /// across the phases, EpochEnd::phase set). pause/resume/cancel act on it the same way.
    void startFineTune(const convscope::FineTuneConfig& config, bool resume);
    void pauseTraining();
    void resumeTraining();
    void cancelTraining();
    bool isTraining() const { return m_training; }

    /// Classifies with the weights file as it is now (a snapshot: training may go on).
    void classify(const QString& weightsPath, const QString& imagePath);
    void evaluate(const QString& weightsPath, const QString& dataDir, double validationFraction,
                  quint64 seed);

    /// The layers of a freshly built model of `model` (names, kinds, output shapes, parameter
    /// counts), answered by layersReady on the jobs thread's behalf.
    void requestLayers(const convscope::ModelConfig& model);

    /// Thumbnails are decoded off the GUI thread, newest request first.
    void requestThumbnail(const QString& path, int size);

Q_SIGNALS:
    void importProgress(int done, int total);
    void imported(convscope::ui::DatasetPtr dataset);
    void previewsReady(const QList<QImage>& images);
    void trainingMessage(const QString& text);
    void trainingProgress(int phase, int done, int total);
    void batchEnded(const convscope::BatchEnd& event);
    void epochEnded(const convscope::EpochEnd& event);
    void checkpointWritten(const QString& path);
    /// The trainer has actually stopped between batches (true) or goes on (false).
    void trainingPaused(bool paused);
    void trainingFinished(const convscope::TrainingResult& result);
    void classified(const convscope::ui::Classification& result);
    void evaluated(const convscope::Evaluation& evaluation, const QStringList& classNames);
    void thumbnailReady(const QString& path, const QImage& image);
    void layersReady(const convscope::ModelConfig& model,
                     const std::vector<convscope::LayerInfo>& layers);
    /// `what` names the request ("Import", "Training", ...); `message` is for people.
    void failed(const QString& what, const QString& message);

private:
    QThread* m_jobThread;
    QThread* m_trainThread;
    QThread* m_thumbnailThread;
    JobWorker* m_jobs;
    TrainWorker* m_trainer;
    ThumbnailWorker* m_thumbnails;
    std::shared_ptr<std::atomic<bool>> m_importCancel;
    std::shared_ptr<std::atomic<int>> m_previewGeneration;
    bool m_training = false;
};

/// Copies a core RGB image into a QImage (RGB888).
QImage toQImage(const convscope::RgbImage& image);

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
Q_DECLARE_METATYPE(std::vector<convscope::LayerInfo>)
