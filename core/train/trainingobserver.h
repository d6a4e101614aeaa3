#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace convscope {

struct BatchEnd {
    int epoch = 0;           ///< 1-based
    std::int64_t batch = 0;  ///< 1-based within the epoch
    std::int64_t batchesPerEpoch = 0;
    double loss = 0;
    double accuracy = 0;
    double imagesPerSecond = 0;       ///< of this batch, loading excluded
    double epochImagesPerSecond = 0;  ///< since the epoch began, loading included
    double epochSeconds = 0;          ///< since the epoch began
};

struct EpochEnd {
    int epoch = 0;  ///< 1-based
    double trainLoss = 0;
    double trainAccuracy = 0;
    double validationLoss = 0;
    double validationAccuracy = 0;
    double learningRate = 0;
    double seconds = 0;
    /// Two-phase fine-tuning: 1 (head, backbone frozen) or 2 (last block + head); 0 otherwise.
    int phase = 0;
};

/// Progress phases. Features: running the backbone once for bottleneck features.
enum class Phase { Scanning, Decoding, Training, Finished, Features };

/// Where a run's wall time went, in seconds. The loader makes batches on its own threads, beside
/// the training step: `augment` is their summed busy time, and `batchWait` what the step waited
/// for them. On a GPU, the step's parts are the time to queue the work, not to run it.
struct StageSeconds {
    double scan = 0;             ///< listing the folder and reading every header
    double decode = 0;           ///< decoding to the training size (or reading the cache)
    double augment = 0;          ///< making batches, summed over the loader's threads
    double batchWait = 0;        ///< the training step waiting for its next batch
    double forwardBackward = 0;  ///< forward pass, loss and backward pass
    double optimizer = 0;        ///< the optimizer's step
    double validation = 0;
    double writes = 0;  ///< checkpoints, history, weights
    double total = 0;   ///< the whole run, from Trainer::run to its result

    /// Adds another run's times (a recipe's phases).
    StageSeconds& operator+=(const StageSeconds& o) {
        scan += o.scan;
        decode += o.decode;
        augment += o.augment;
        batchWait += o.batchWait;
        forwardBackward += o.forwardBackward;
        optimizer += o.optimizer;
        validation += o.validation;
        writes += o.writes;
        total += o.total;
        return *this;
    }
};

struct TrainingResult {
    bool cancelled = false;
    bool stoppedEarly = false;
    int epochsCompleted = 0;
    double finalValidationAccuracy = 0;
    double finalValidationLoss = 0;
    std::string weightsPath;                 ///< empty when no weights were written
    std::int64_t peakDeviceMemoryBytes = 0;  ///< on a GPU; 0 on the CPU
    /// Why the run stopped on an error. Trainer::run throws instead; callers that turn the
    /// error into a result (the window's worker) say it here, and `cancelled` stays false.
    std::string error;
    std::vector<EpochEnd> history;
    StageSeconds seconds;
};

/// Receives training events. Called on the thread that runs Trainer::run(); implementations
/// hand them to their own thread (the UI posts them as queued signals). Must not throw.
class TrainingObserver {
public:
    virtual ~TrainingObserver() = default;
    virtual void onProgress(Phase /*phase*/, std::size_t /*done*/, std::size_t /*total*/) {}
    virtual void onMessage(const std::string& /*text*/) {}
    /// Where the run computes and in what precision, once "auto" is settled ("CPU (16
    /// threads, AVX512)", "bf16").
    virtual void onDeviceChosen(const std::string& /*device*/, const std::string& /*precision*/) {}
    virtual void onBatchEnd(const BatchEnd& /*event*/) {}
    virtual void onEpochEnd(const EpochEnd& /*event*/) {}
    virtual void onCheckpoint(const std::string& /*path*/) {}
    /// Training has actually stopped at a batch boundary (true), or goes on again (false).
    virtual void onPaused(bool /*paused*/) {}
    virtual void onFinished(const TrainingResult& /*result*/) {}
};

/// `observer`, or one that ignores every event when it is null.
inline TrainingObserver& observerOrSilent(TrainingObserver* observer) {
    static TrainingObserver silent;
    return observer ? *observer : silent;
}

}  // namespace convscope
