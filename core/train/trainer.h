#pragma once

#include "train/trainconfig.h"
#include "train/trainingrun.h"

#include <memory>
#include <string>
#include <vector>

namespace convscope {

/// Trains a model on a dataset folder into a run directory:
///   config.json, import-report.json, history.csv, checkpoint.pt and latest.h5 (each epoch),
///   weights.h5 (at the end).
/// run() blocks the calling thread (the one worker thread that owns the model); pause(),
/// resume() and cancel() may be called from any thread and take effect within one batch.
class DataParallel;

class Trainer : public TrainingRun {
public:
    /// `observer` may be null and must outlive run(). With `resumeRun`, `config` should come
    /// from resumeConfig() and run() continues after the last checkpoint.
    Trainer(TrainConfig config, TrainingObserver* observer, bool resumeRun = false);
    ~Trainer() override;
    Trainer(const Trainer&) = delete;
    Trainer& operator=(const Trainer&) = delete;

    /// Throws convscope::Error for bad data, configuration or I/O; a cancel is not an error.
    TrainingResult run() override;

    void pause() override;
    void resume() override;
    void cancel() override;
    bool isPaused() const override;
    int plannedEpochs() const override;
    const std::string& runDirectory() const override;

    const TrainConfig& config() const;

    /// The data-parallel group to train in, already joined (a recipe's phases share one).
    /// Without it, run() joins its own when config().distributed asks for one.
    void shareDataParallel(std::shared_ptr<DataParallel> group);
    /// The folder whose control.json (RunRequest) this run obeys, cleared by its owner: a
    /// recipe's, for its phases. Without it, the run folder's, cleared when the run starts.
    void obeyRequestsIn(const std::string& folder);

    /// The configuration of an existing run directory (its config.json).
    static TrainConfig resumeConfig(const std::string& runDir);

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

}  // namespace convscope
