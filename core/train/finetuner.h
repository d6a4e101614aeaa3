#pragma once

#include "train/trainconfig.h"
#include "train/trainingrun.h"

#include <atomic>
#include <memory>
#include <mutex>
#include <string>

namespace convscope {

class RunStatusRecord;

class Trainer;
class DataParallel;

/// The two-phase fine-tuning recipe of the Keras blog post "Building powerful image
/// classification models using very little data" (step 3), as one run.
struct FineTuneConfig {
    /// Data, the recipe's run folder, model, starting weights (initialWeights), batch size,
    /// seed, augmentation; phase 1 also takes its optimizer, learning rate and `bottleneck`.
    TrainConfig base;
    int headEpochs = 10;     ///< phase 1: the head alone, the backbone frozen
    int fineTuneEpochs = 5;  ///< phase 2: the last block (lastBlockFreezePoint) and the head
    double fineTuneLearningRate = 1e-4;  ///< phase 2 uses SGD with this rate and momentum
    double fineTuneMomentum = 0.9;
    /// Phase 2 keeps every batch-norm layer in inference mode (TrainConfig::batchNormInference).
    bool batchNormInference = true;
};

/// Runs both phases into one run folder:
///   recipe.json, head/ (phase 1's run), finetune/ (phase 2's run, starting from
///   head/weights.h5), history.csv (both phases, epochs numbered on, a "phase" column),
///   latest.h5 (after every epoch) and weights.h5 (at the end).
/// run() blocks the calling thread; pause(), resume() and cancel() may be called from any
/// thread and act within one batch, whichever phase runs. A cancelled or crashed recipe
/// continues with resumeRun = true: a finished phase is not trained again, an interrupted one
/// resumes from its last checkpoint.
/// Data-parallel (base.distributed): both phases train in one group, joined by run(); rank 0
/// alone writes the recipe's folder, and the other ranks take phase 2's starting weights from
/// rank 0 through the group, so they need the data and starting weights but not the folder.
class FineTuner : public TrainingRun {
public:
    /// `observer` may be null and must outlive run(). Its epoch numbers run on across both
    /// phases and EpochEnd::phase says which phase an epoch belongs to.
    FineTuner(FineTuneConfig config, TrainingObserver* observer, bool resumeRun = false);
    ~FineTuner() override;
    FineTuner(const FineTuner&) = delete;
    FineTuner& operator=(const FineTuner&) = delete;

    /// Throws convscope::Error for bad data, configuration or I/O; a cancel is not an error.
    TrainingResult run() override;

    void pause() override;
    void resume() override;
    void cancel() override;
    bool isPaused() const override { return m_paused; }
    int plannedEpochs() const override { return m_config.headEpochs + m_config.fineTuneEpochs; }
    const std::string& runDirectory() const override { return m_config.base.runDir; }

    const FineTuneConfig& config() const { return m_config; }

    /// The configuration phase 1 or 2 trains with (its run folder inside the recipe's).
    static TrainConfig phaseConfig(const FineTuneConfig& config, int phase);
    /// The configuration of an existing recipe run folder (its recipe.json).
    static FineTuneConfig resumeConfig(const std::string& runDir);

private:
    TrainingResult runPhase(int phase, int epochOffset, std::vector<EpochEnd>& history,
                            RunStatusRecord* status);
    /// Both phases, once the recipe's folder is settled; records the end in `status` (null on
    /// the ranks that do not write).
    TrainingResult runPhases(RunStatusRecord* status);
    /// Checks the configuration and writes recipe.json (rank 0) for a new recipe.
    void startRecipe();

    FineTuneConfig m_config;
    TrainingObserver* m_observer;
    bool m_resumeRun;
    std::atomic<bool> m_paused{false};
    std::atomic<bool> m_cancelled{false};
    std::mutex m_mutex;
    Trainer* m_active = nullptr;  // guarded by m_mutex
    std::shared_ptr<DataParallel> m_parallel;
};

}  // namespace convscope
