#pragma once

#include "train/trainingobserver.h"

#include <memory>
#include <string>

namespace convscope {

/// A training job that one worker thread runs and any other thread steers: a plain run
/// (Trainer) or the two-phase fine-tuning recipe (FineTuner). Front ends hold this, so that
/// starting, pausing, cancelling and resuming take one code path whatever the job.
class TrainingRun {
public:
    virtual ~TrainingRun() = default;

    /// Blocks the calling thread until the run ends. Throws convscope::Error (OutOfMemory
    /// when the device ran out) for bad data, configuration or I/O; a cancel is not an error.
    virtual TrainingResult run() = 0;
    /// Thread-safe; take effect within one batch.
    virtual void pause() = 0;
    virtual void resume() = 0;
    virtual void cancel() = 0;
    virtual bool isPaused() const = 0;

    /// The epochs the whole run is planned to have (both phases of a recipe).
    virtual int plannedEpochs() const = 0;
    /// The run folder.
    virtual const std::string& runDirectory() const = 0;
};

/// The run in `runDir`, ready to continue after its last checkpoint: a fine-tuning recipe
/// when the folder holds recipe.json, else a plain run (config.json). `batchSize` > 0 replaces
/// a plain run's batch size (after running out of memory); 0 keeps the run's. `observer` may
/// be null and must outlive the run. Throws convscope::Error naming the folder for one that
/// holds no run or a damaged configuration.
std::unique_ptr<TrainingRun> resumeTrainingRun(const std::string& runDir,
                                               TrainingObserver* observer, int batchSize = 0);

}  // namespace convscope
