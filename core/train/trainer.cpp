#include "train/trainer.h"

#include "data/batchloader.h"
#include "data/reportjson.h"
#include "error.h"
#include "io/kerasimport.h"
#include "io/modelweights.h"
#include "io/pretrained.h"
#include "runtime.h"
#include "train/bottleneck.h"
#include "train/checkpoint.h"
#include "train/evaluator.h"
#include "train/precision.h"
#include "train/runfolder.h"
#include "util/atomicfile.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <optional>

namespace convscope {

namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
}

class NullObserver : public TrainingObserver {};

std::unique_ptr<torch::optim::Optimizer> makeOptimizer(const TrainConfig& c,
                                                       std::vector<torch::Tensor> params) {
    switch (c.optimizer) {
        case OptimizerKind::Sgd:
            return std::make_unique<torch::optim::SGD>(params,
                                                       torch::optim::SGDOptions(c.learningRate)
                                                           .momentum(c.momentum)
                                                           .nesterov(c.nesterov)
                                                           .weight_decay(c.weightDecay));
        case OptimizerKind::Adam:
            return std::make_unique<torch::optim::Adam>(
                params, torch::optim::AdamOptions(c.learningRate).weight_decay(c.weightDecay));
        case OptimizerKind::RmsProp:
            // Keras's RMSprop defaults (rho 0.9, epsilon 1e-7), which the Keras blog recipe uses.
            return std::make_unique<torch::optim::RMSprop>(
                params, torch::optim::RMSpropOptions(c.learningRate)
                            .alpha(0.9)
                            .eps(1e-7)
                            .weight_decay(c.weightDecay));
    }
    throw Error("optimizer", "unknown");
}

}  // namespace

std::string historyCsv(const std::vector<EpochEnd>& history) {
    const bool phases =
        std::any_of(history.begin(), history.end(), [](const EpochEnd& e) { return e.phase != 0; });
    std::string csv = "epoch,train_loss,train_accuracy,val_loss,val_accuracy,learning_rate,seconds";
    if (phases)
        csv += ",phase";
    csv += '\n';
    char line[256];
    for (const EpochEnd& e : history) {
        std::snprintf(line, sizeof line, "%d,%.6f,%.6f,%.6f,%.6f,%.8g,%.3f", e.epoch, e.trainLoss,
                      e.trainAccuracy, e.validationLoss, e.validationAccuracy, e.learningRate,
                      e.seconds);
        csv += line;
        if (phases) {
            csv += ',';
            csv += std::to_string(e.phase);
        }
        csv += '\n';
    }
    return csv;
}

struct Trainer::Impl {
    TrainConfig config;
    TrainingObserver* observer;
    bool resumeRun;
    std::atomic<bool> cancelled{false};
    std::atomic<bool> paused{false};
    mutable std::mutex mutex;
    std::condition_variable wake;
    BatchLoader* activeLoader = nullptr;  // guarded by mutex; stopped on cancel

    void waitWhilePaused() {
        if (!paused)
            return;
        observer->onPaused(true);
        {
            std::unique_lock lock(mutex);
            wake.wait(lock, [&] { return !paused || cancelled; });
        }
        observer->onPaused(false);
    }

    double learningRateFor(int epoch, const TrainingState& state) const {
        const TrainConfig& c = config;
        switch (c.schedule) {
            case Schedule::Constant:
                return c.learningRate;
            case Schedule::Step:
                return c.learningRate * std::pow(c.stepGamma, epoch / std::max(1, c.stepEpochs));
            case Schedule::Cosine:
                return c.learningRate * 0.5 *
                       (1 + std::cos(3.14159265358979323846 * epoch / std::max(1, c.epochs)));
            case Schedule::Plateau:
                return state.learningRate > 0 ? state.learningRate : c.learningRate;
        }
        return c.learningRate;
    }

    TrainingResult run();
};

Trainer::Trainer(TrainConfig config, TrainingObserver* observer, bool resumeRun)
    : m_impl(std::make_unique<Impl>()) {
    m_impl->config = std::move(config);
    static NullObserver none;
    m_impl->observer = observer ? observer : &none;
    m_impl->resumeRun = resumeRun;
}

Trainer::~Trainer() = default;

void Trainer::pause() {
    m_impl->paused = true;
}

void Trainer::resume() {
    std::lock_guard lock(m_impl->mutex);
    m_impl->paused = false;
    m_impl->wake.notify_all();
}

void Trainer::cancel() {
    std::lock_guard lock(m_impl->mutex);
    m_impl->cancelled = true;
    if (m_impl->activeLoader)
        m_impl->activeLoader->stop();
    m_impl->wake.notify_all();
}

bool Trainer::isPaused() const {
    return m_impl->paused;
}

const TrainConfig& Trainer::config() const {
    return m_impl->config;
}

TrainConfig Trainer::resumeConfig(const std::string& runDir) {
    return atBoundary(runDir, [&] { return readRunConfig(runDir); });
}

TrainingResult Trainer::run() {
    return atBoundary(m_impl->config.runDir, [&] { return m_impl->run(); });
}

TrainingResult Trainer::Impl::run() {
    TrainConfig& c = config;
    validateTrainConfig(c);
    // Settled before anything is written: asking for a GPU that is not there leaves no run.
    configureThreads(c.threads);
    const ResolvedDevice resolved = resolveDevice(c.device, c.precision);
    c.deviceUsed = deviceName(resolved.device);
    c.precisionUsed = precisionName(resolved.precision);
    const torch::Device device = torchDevice(resolved.device);
    const Precision precision = resolved.precision;
    const fs::path runDir = fs::absolute(c.runDir).lexically_normal();
    const std::string checkpointPath = (runDir / "checkpoint.pt").string();
    // The starting weights bring their flavour and preprocessing; both go into config.json
    // and the weights' metadata, so that predict prepares images the same way. A resumed
    // run has them in its config.json already.
    if (!resumeRun)
        adoptStartingWeights(c);
    checkModelSettings(c);  // after a Keras backbone has set the flavour (its layer names)
    if (fs::is_directory(runDir))
        if (const int stale = removeStaleTemporaryFiles(runDir.string()))
            observer->onMessage("Removed " + std::to_string(stale) +
                                " temporary files left by a write that was killed");
    // config.json records absolute paths, so that the run folder resolves from itself.
    c.runDir = fs::absolute(c.runDir).lexically_normal().string();
    c.dataDir = fs::absolute(c.dataDir).lexically_normal().string();
    if (resumeRun) {
        if (!fs::exists(checkpointPath))
            throw Error(c.runDir,
                        "nothing to resume (no checkpoint.pt: the first epoch never finished); "
                        "start it again with the same data and --out");
    } else {
        if (fs::exists(runDir / "config.json") && fs::exists(checkpointPath))
            throw Error(c.runDir,
                        "already holds a run (resume it with --resume, or choose another --out)");
        // A run that stopped before its first checkpoint has nothing to resume: it starts
        // again in the same folder (config.json is rewritten below).
        if (fs::exists(runDir / "config.json"))
            observer->onMessage(c.runDir +
                                ": its earlier run stopped before its first "
                                "checkpoint; starting again");
        fs::create_directories(runDir);
        writeTextFileAtomically((runDir / "config.json").string(), toJson(c));
    }

    ScanOptions scan;
    scan.validationFraction = c.validationFraction;
    scan.seed = c.seed;
    scan.cancel = &cancelled;
    scan.progress = [&](std::size_t d, std::size_t t) {
        observer->onProgress(Phase::Scanning, d, t);
    };
    TrainingResult result;
    std::optional<DatasetIndex> scanned;
    try {
        scanned.emplace(DatasetIndex::scan(c.dataDir, scan));
    } catch (const Error&) {
        if (!cancelled)
            throw;
    }
    if (!scanned) {  // cancelled while scanning: not an error
        result.cancelled = true;
        observer->onFinished(result);
        return result;
    }
    DatasetIndex& index = *scanned;
    if (index.classNames().size() < 2)
        throw Error(c.dataDir, "a classifier needs at least two classes");
    if (resumeRun) {
        checkSameClasses(runDir.string(), c.dataDir, index.classNames());
        // What this session uses (a batch size chosen at resume, the device found now),
        // written once the data has been checked.
        writeTextFileAtomically((runDir / "config.json").string(), toJson(c));
    }

    CacheOptions cacheOptions;
    cacheOptions.width = cacheOptions.height = c.model.inputSize;
    cacheOptions.memoryBudgetBytes = c.cacheBudgetBytes;
    ImageCache cache(index, cacheOptions);
    cache.decodeAll(&cancelled, [&](std::size_t d, std::size_t t) {
        observer->onProgress(Phase::Decoding, d, t);
    });
    writeTextFileAtomically((runDir / "import-report.json").string(), datasetSummaryJson(index));
    if (cancelled) {
        result.cancelled = true;
        observer->onFinished(result);
        return result;
    }
    const auto trainSamples = index.indices(Split::Train);
    const auto validationSamples = index.indices(Split::Validation);
    if (trainSamples.empty())
        throw Error(c.dataDir, "no training images");
    observer->onMessage(std::to_string(index.classNames().size()) + " classes, " +
                        std::to_string(trainSamples.size()) + " training and " +
                        std::to_string(validationSamples.size()) + " validation images, " +
                        std::to_string(index.report().skipped.size()) + " skipped");

    c.model.classCount = int(index.classNames().size());
    torch::manual_seed(c.seed);
    Classifier model = makeClassifier(c.model);
    WeightsMetadata metadata{c.model, index.classNames(), c.preprocessing};
    if (!c.initialWeights.empty()) {
        const PretrainedLoad loaded = loadPretrainedWeights(c.initialWeights, *model);
        if (!loaded.description.empty())
            observer->onMessage(loaded.description + ", preprocessing '" + c.preprocessing.name +
                                "': " + describe(loaded.report));
        else
            observer->onMessage(std::string("Starting from ") + weightsFormatName(loaded.format) +
                                " " + c.initialWeights + " (preprocessing " + c.preprocessing.name +
                                "): " + describe(loaded.report));
    }
    if (!c.freezeUpTo.empty())
        model->freezeUpTo(c.freezeUpTo);
    model->setBatchNormInference(c.batchNormInference);
    if (c.bottleneck)
        observer->onMessage("Bottleneck features: training the head only (frozen up to " +
                            freezeForBottleneck(*model, c.freezeUpTo) + ")");

    model->to(device);
    if (device.is_cuda())
        at::globalContext().setBenchmarkCuDNN(true);
    observer->onMessage("Device " + resolved.description + ", precision " +
                        precisionName(precision) +
                        (c.precision == Precision::Auto ? " (auto)" : ""));
    observer->onDeviceChosen(resolved.description, precisionName(precision));
    if (c.batchSize == 0) {
        // --batch auto: the largest power of two that fits (on the CPU, 32).
        c.batchSize = device.is_cuda() ? largestFittingBatch(*model, 4096, c.model.inputSize,
                                                             device, precision, c.channelsLast)
                                       : 32;
        if (c.batchSize == 0)
            throw Error(resolved.description, "not even a batch of one image fits in memory");
        observer->onMessage("Batch size " + std::to_string(c.batchSize) + " (auto)");
        writeTextFileAtomically((runDir / "config.json").string(), toJson(c));
    }
    const bool channelsLast = c.channelsLast;
    if (channelsLast) {
        torch::NoGradGuard noGrad;
        for (auto& p : model->parameters())
            if (p.dim() == 4)
                p.set_data(p.data().contiguous(torch::MemoryFormat::ChannelsLast));
    }
    std::vector<torch::Tensor> trainable;
    for (auto& p : model->parameters())
        if (p.requires_grad())
            trainable.push_back(p);
    if (trainable.empty())
        throw Error(c.freezeUpTo, "every layer is frozen: nothing to train");
    auto optimizer = makeOptimizer(c, trainable);

    LoaderOptions lo;
    lo.batchSize = c.batchSize;
    lo.seed = c.seed;
    lo.workers = c.loaderWorkers;
    lo.channelsLast = channelsLast;
    lo.augment = c.augment;
    lo.pinMemory = device.is_cuda();
    AugmentParams augment = c.augmentation;
    applyPreprocessing(c.preprocessing, lo, augment);
    BatchLoader trainLoader(cache, trainSamples, augment, lo);
    LoaderOptions vo = lo;
    vo.augment = false;
    vo.shuffle = false;
    BatchLoader validationLoader(cache, validationSamples, augment, vo);

    std::optional<BottleneckFeatures> features;
    std::optional<FeatureBatches> featureBatches;
    if (c.bottleneck) {
        features =
            prepareBottleneckFeatures(*model, cache, c, lo, augment, device, cancelled, *observer);
        if (!features) {
            result.cancelled = true;
            observer->onFinished(result);
            return result;
        }
        featureBatches.emplace(features->train, c.batchSize, c.seed);
    }

    LossScaler scaler(precision == Precision::Fp16);
    resetPeakDeviceMemory(device);
    TrainingState state;
    if (resumeRun) {
        state = loadCheckpoint(checkpointPath, *model, *optimizer);
        observer->onMessage("Resuming after epoch " + std::to_string(state.epochsCompleted));
        for (const EpochEnd& e : state.history)
            observer->onEpochEnd(e);
    }

    bool stoppedEarly = false;
    try {
        for (int epoch = state.epochsCompleted; epoch < c.epochs && !cancelled; ++epoch) {
            const double lr = learningRateFor(epoch, state);
            for (auto& group : optimizer->param_groups())
                group.options().set_lr(lr);
            model->train();
            const auto epochStart = Clock::now();
            double lossSum = 0;
            std::int64_t correct = 0, seen = 0;
            {
                std::lock_guard lock(mutex);
                activeLoader = &trainLoader;
            }
            if (featureBatches)
                featureBatches->startEpoch(epoch);
            else
                trainLoader.startEpoch(epoch);
            if (cancelled)
                trainLoader.stop();
            const std::int64_t batchesPerEpoch =
                featureBatches ? featureBatches->batchesPerEpoch() : trainLoader.batchesPerEpoch();
            while (auto batch = featureBatches ? featureBatches->next() : trainLoader.next()) {
                waitWhilePaused();
                if (cancelled)
                    break;
                if (batch->labels.size(0) == 0)
                    continue;  // every image of it was left out (reported below)
                const auto batchStart = Clock::now();
                const torch::Tensor x = batch->images.to(device, /*non_blocking=*/true);
                const torch::Tensor y = batch->labels.to(device, true);
                optimizer->zero_grad();
                torch::Tensor logits, loss;
                {
                    AutocastScope autocast(device, precision);
                    injectOutOfMemoryIfAsked(x.size(0));
                    logits = features ? model->forwardHead(x) : model->forward(x);
                    loss = torch::nn::functional::cross_entropy(logits, y);
                }
                scaler.scaled(loss).backward();
                const bool finite = scaler.unscale(trainable);
                if (finite)
                    optimizer->step();
                scaler.update(finite);
                countTrainingStep();
                const std::int64_t n = y.size(0);
                const double batchLoss = loss.item<double>();
                // fp16's scaler skips a step whose gradients overflow; a loss that is itself not
                // finite means the weights are lost (a learning rate far too high): stop, keeping
                // the last checkpoint, which holds the last good weights.
                if (!std::isfinite(batchLoss))
                    throw Error(c.runDir,
                                "the loss became " +
                                    std::string(std::isnan(batchLoss) ? "NaN" : "infinite") +
                                    " in epoch " + std::to_string(epoch + 1) + ", batch " +
                                    std::to_string(batch->index + 1) + " (learning rate " +
                                    std::to_string(lr) +
                                    "): training stopped; the last checkpoint (" +
                                    std::to_string(state.epochsCompleted) +
                                    " epochs) is kept. Try a smaller learning rate.");
                const std::int64_t batchCorrect = logits.argmax(1).eq(y).sum().item<std::int64_t>();
                lossSum += batchLoss * double(n);
                correct += batchCorrect;
                seen += n;
                BatchEnd b;
                b.epoch = epoch + 1;
                b.batch = batch->index + 1;
                b.batchesPerEpoch = batchesPerEpoch;
                b.loss = batchLoss;
                b.accuracy = double(batchCorrect) / double(n);
                b.imagesPerSecond = double(n) / std::max(1e-9, secondsSince(batchStart));
                b.epochSeconds = secondsSince(epochStart);
                b.epochImagesPerSecond = double(seen) / std::max(1e-9, b.epochSeconds);
                observer->onBatchEnd(b);
            }
            {
                std::lock_guard lock(mutex);
                activeLoader = nullptr;
            }
            if (cancelled)
                break;

            Evaluation val;
            {
                AutocastScope autocast(device, precision);
                val = features ? evaluateHead(*model, features->validation, c.batchSize, device,
                                              &cancelled)
                               : evaluateModel(*model, validationLoader, device, false, &cancelled);
            }
            if (cancelled)
                break;
            for (BatchLoader* loader : {&trainLoader, &validationLoader})
                for (const auto& [sample, reason] : loader->takeSkipped())
                    observer->onMessage("Left out from now on: " + reason);
            EpochEnd e;
            e.epoch = epoch + 1;
            e.trainLoss = seen ? lossSum / double(seen) : 0;
            e.trainAccuracy = seen ? double(correct) / double(seen) : 0;
            e.validationLoss = val.loss;
            e.validationAccuracy = val.accuracy();
            e.learningRate = lr;
            e.seconds = secondsSince(epochStart);

            state.history.push_back(e);
            state.epochsCompleted = epoch + 1;
            state.learningRate = lr;
            if (e.validationLoss < state.bestValidationLoss - 1e-9) {
                state.bestValidationLoss = e.validationLoss;
                state.epochsSinceBest = 0;
            } else {
                ++state.epochsSinceBest;
                if (c.schedule == Schedule::Plateau && state.epochsSinceBest > 0 &&
                    state.epochsSinceBest % std::max(1, c.plateauPatience) == 0)
                    state.learningRate = lr * c.plateauFactor;
            }
            stoppedEarly =
                c.earlyStoppingPatience > 0 && state.epochsSinceBest >= c.earlyStoppingPatience;
            saveCheckpoint(checkpointPath, *model, *optimizer, state);
            // A snapshot for classifying while training goes on (the UI reads it on another
            // thread).
            saveModelWeights((runDir / "latest.h5").string(), *model, metadata);
            writeTextFileAtomically((runDir / "history.csv").string(), historyCsv(state.history));
            observer->onCheckpoint(checkpointPath);
            observer->onEpochEnd(e);
            if (stoppedEarly) {
                observer->onMessage("Early stopping: validation loss has not improved for " +
                                    std::to_string(state.epochsSinceBest) + " epochs");
                break;
            }
        }
    } catch (const c10::OutOfMemoryError& e) {
        // The epoch in progress is lost; checkpoint.pt and latest.h5 are the last epoch's.
        {
            std::lock_guard lock(mutex);
            activeLoader = nullptr;
        }
        trainLoader.stop();
        optimizer->zero_grad();
        releaseCachedDeviceMemory(device);
        observer->onMessage("Out of memory at batch size " + std::to_string(c.batchSize) +
                            ": looking for the largest batch that fits");
        const int fits = largestFittingBatch(*model, c.batchSize - 1, c.model.inputSize, device,
                                             precision, c.channelsLast);
        const std::string free =
            device.is_cuda() ? " (" + gibibytesText(freeDeviceMemoryBytes(device)) + " free)" : "";
        std::string reason = "out of memory on " + resolved.description + free + " at batch size " +
                             std::to_string(c.batchSize) + "; ";
        reason += fits > 0 ? "the largest batch that fits is " + std::to_string(fits)
                           : "not even a batch of one image fits";
        reason += ". Training stopped at its last checkpoint (" +
                  std::to_string(state.epochsCompleted) + " epochs done)";
        if (fits > 0)
            reason += ": resume it with batch size " + std::to_string(fits);
        throw OutOfMemory(c.runDir, reason, c.batchSize, fits);
    }

    result.cancelled = cancelled;
    result.stoppedEarly = stoppedEarly;
    result.peakDeviceMemoryBytes = peakDeviceMemoryBytes(device);
    result.epochsCompleted = state.epochsCompleted;
    result.history = state.history;
    if (!state.history.empty()) {
        result.finalValidationAccuracy = state.history.back().validationAccuracy;
        result.finalValidationLoss = state.history.back().validationLoss;
    }
    if (!cancelled) {
        result.weightsPath = (runDir / "weights.h5").string();
        model->to(torch::kCPU);
        saveModelWeights(result.weightsPath, *model, metadata);
    }
    observer->onFinished(result);
    return result;
}

}  // namespace convscope
