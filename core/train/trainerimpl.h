#pragma once

// Internal to core/train: the trainer's state and steps, shared by trainer.cpp (the run and
// its epochs) and trainersetup.cpp (the run folder, the data and the session).

#include "train/trainer.h"

#include "dist/dataparallel.h"
#include "io/weightsmetadata.h"
#include "train/batchloader.h"
#include "train/bottleneck.h"
#include "train/checkpoint.h"
#include "train/evaluator.h"
#include "train/precision.h"
#include "train/runcontrol.h"
#include "train/runstatus.h"

#include <torch/torch.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <optional>

namespace convscope {

namespace fs = std::filesystem;

using Clock = std::chrono::steady_clock;

inline double secondsSince(Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
}

struct Trainer::Impl {
    TrainConfig config;
    TrainingObserver* observer;
    bool resumeRun;
    std::atomic<bool> cancelled{false};  // asked for (a signal, the window)
    bool agreedCancel = false;           // what every rank of a data-parallel run agreed on
    StageSeconds stages;                 // where the time went (TrainingResult::seconds)
    Clock::time_point runStart = Clock::now();
    std::atomic<bool> paused{false};
    mutable std::mutex mutex;
    std::condition_variable wake;
    BatchLoader* activeLoader = nullptr;  // guarded by mutex; stopped on cancel

    /// control.json of the run folder (or of the recipe that runs this phase), which the window
    /// and `convscope control` write; read by the process that writes the folder.
    std::string controlFolder;
    std::optional<RunControlWatcher> control;

    void requestCancel() {
        std::lock_guard lock(mutex);
        cancelled = true;
        // A data-parallel run stops at a step every rank agrees on (trainEpoch), not mid-batch.
        if (activeLoader && !config.distributed.distributed())
            activeLoader->stop();
        wake.notify_all();
    }

    void requestPause(bool pause) {
        std::lock_guard lock(mutex);
        paused = pause;
        wake.notify_all();
    }

    /// Takes the request written into control.json since the last look, if any.
    void obeyControlFile() {
        const std::optional<RunRequest> request = control ? control->poll() : std::nullopt;
        if (request == RunRequest::Cancel)
            requestCancel();
        else if (request)
            requestPause(*request == RunRequest::Pause);
    }

    void showPaused(bool now) {
        if (writes())
            status.setPaused(now);
        observer->onPaused(now);
    }

    /// Waits up to `limit` for the pause to end or a cancel; false when it still holds.
    bool pauseEnds(std::chrono::milliseconds limit) {
        {
            std::unique_lock lock(mutex);
            if (wake.wait_for(lock, limit, [&] { return !paused || cancelled; }))
                return true;
        }
        obeyControlFile();
        return !paused || cancelled;
    }

    /// Whether the run stops here, after waiting while it is paused. A collective in a
    /// data-parallel run: every rank calls it at the same step, and all get the same answer,
    /// though a Ctrl-C or a pause reaches them at different moments. A paused group agrees
    /// again every quarter second, which also keeps it from timing out.
    bool agreeOnControl() {
        obeyControlFile();
        constexpr auto kPausePoll = std::chrono::milliseconds(250);
        bool shown = false;
        if (!parallel && paused && !cancelled) {
            shown = true;
            showPaused(true);
            while (!pauseEnds(kPausePoll)) {
            }
        }
        while (parallel) {
            const std::vector<double> agreed =
                parallel->sum({cancelled ? 1.0 : 0.0, paused ? 1.0 : 0.0});
            agreedCancel = agreedCancel || agreed[0] > 0;
            if (agreedCancel || agreed[1] == 0)
                break;
            if (!shown) {
                shown = true;
                showPaused(true);
            }
            pauseEnds(kPausePoll);
        }
        if (shown)
            showPaused(false);
        return isCancelled();
    }

    /// The answer of the last agreeOnControl (no collective). Control flow reads only this: a
    /// rank that read the raw flag could leave a loop its peers are still in, and they would
    /// wait on it until the timeout.
    bool isCancelled() const { return parallel ? agreedCancel : bool(cancelled); }

    /// What one run reads: the scanned folder and its decoded images (the cache refers to
    /// the index, so both stay where they are).
    struct RunData {
        std::unique_ptr<DatasetIndex> index;
        std::unique_ptr<ImageCache> cache;
        std::vector<std::size_t> train, validation;
    };
    /// What one run trains with.
    struct Session {
        Classifier model{nullptr};
        WeightsMetadata metadata;
        std::vector<torch::Tensor> trainable;
        std::unique_ptr<torch::optim::Optimizer> optimizer;
        LossScaler scaler{false};
        LoaderOptions loaderOptions;
        std::unique_ptr<BatchLoader> trainLoader, validationLoader;
        std::optional<BottleneckFeatures> features;
        std::optional<FeatureBatches> featureBatches;
        TrainingState state;
    };
    /// Sums over one epoch's training batches.
    struct EpochTally {
        Clock::time_point start;
        double learningRate = 0;
        double lossSum = 0;
        std::int64_t correct = 0, seen = 0;
    };

    RunStatusRecord status;  ///< status.json, from when the folder is settled
    /// Data-parallel training: this process's part in the group (none in one process).
    std::shared_ptr<DataParallel> parallel;
    /// Whether this process writes the run folder: rank 0 of a data-parallel run, else yes.
    bool writes() const { return config.distributed.writes(); }
    // Set by prepareRunFolder().
    ResolvedDevice resolved;
    torch::Device device{torch::kCPU};
    fs::path runDir;
    std::string checkpointPath;

    TrainingResult run();
    /// Settles the device, adopts the starting weights' settings and writes config.json.
    void prepareRunFolder();
    void writeConfig() const;
    /// Scans and decodes the data; nothing when cancelled.
    std::optional<RunData> loadData();
    /// The model (starting weights loaded, layers frozen), optimizer and loaders.
    Session buildSession(const RunData& data);
    /// Runs the frozen backbone once over the data; false when cancelled.
    bool prepareBottleneck(Session& session, const RunData& data);
    void setActiveLoader(BatchLoader* loader);
    /// One epoch's training batches; nothing when cancelled.
    std::optional<EpochTally> trainEpoch(Session& session, int epoch);
    /// Validation, the schedule, the checkpoint and the epoch's files and events. Nothing when
    /// cancelled during validation; else whether early stopping ends the run.
    std::optional<bool> endEpoch(Session& session, int epoch, const EpochTally& tally);
    /// Sums the epoch's training tally and validation counts over the ranks; records each
    /// rank's training images/s in status.json (rank 0).
    void reduceAcrossRanks(Evaluation& validation, EpochTally& tally);
    /// Finds the largest batch that fits and throws OutOfMemory saying so.
    [[noreturn]] void stopForOutOfMemory(Session& session);
    TrainingResult finishCancelled();
    /// Writes weights.h5 (unless cancelled) and reports the result.
    TrainingResult finish(Session& session, bool stoppedEarly);
};

}  // namespace convscope
