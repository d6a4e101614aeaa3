#include "train/trainer.h"

#include "train/batchloader.h"
#include "data/reportjson.h"
#include "dist/dataparallel.h"
#include "error.h"
#include "io/modelweights.h"
#include "io/pretrained.h"
#include "runtime.h"
#include "train/bottleneck.h"
#include "train/checkpoint.h"
#include "train/confusionrecord.h"
#include "train/evaluator.h"
#include "train/optimization.h"
#include "train/precision.h"
#include "train/runfolder.h"
#include "train/runstatus.h"
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

}  // namespace

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
    std::unique_ptr<DataParallel> parallel;
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
    /// Sums the epoch's training tally and validation counts over the ranks.
    void reduceAcrossRanks(Evaluation& validation, EpochTally& tally);
    /// Finds the largest batch that fits and throws OutOfMemory saying so.
    [[noreturn]] void stopForOutOfMemory(Session& session);
    TrainingResult finishCancelled();
    /// Writes weights.h5 (unless cancelled) and reports the result.
    TrainingResult finish(Session& session, bool stoppedEarly);
};

Trainer::Trainer(TrainConfig config, TrainingObserver* observer, bool resumeRun)
    : m_impl(std::make_unique<Impl>()) {
    m_impl->config = std::move(config);
    m_impl->observer = &observerOrSilent(observer);
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
    // A data-parallel run stops at a step every rank agrees on (trainEpoch), not mid-batch.
    if (m_impl->activeLoader && !m_impl->config.distributed.distributed())
        m_impl->activeLoader->stop();
    m_impl->wake.notify_all();
}

bool Trainer::isPaused() const {
    return m_impl->paused;
}

int Trainer::plannedEpochs() const {
    return m_impl->config.epochs;
}

const std::string& Trainer::runDirectory() const {
    return m_impl->config.runDir;
}

const TrainConfig& Trainer::config() const {
    return m_impl->config;
}

TrainConfig Trainer::resumeConfig(const std::string& runDir) {
    return atBoundary(runDir, [&] { return readRunConfig(runDir); });
}

TrainingResult Trainer::run() {
    return atBoundary(m_impl->config.runDir, [&] {
        try {
            return m_impl->run();
        } catch (...) {
            m_impl->status.endWithCurrentException();
            throw;
        }
    });
}

TrainingResult Trainer::Impl::run() {
    prepareRunFolder();
    if (config.distributed.distributed()) {
        if (config.bottleneck)
            throw Error("--bottleneck",
                        "bottleneck features train in one process; leave out the "
                        "data-parallel options");
        if (device.is_cuda())
            throw Error(resolved.description,
                        "data-parallel training runs on CPU processes (Gloo) in this version; "
                        "NCCL between GPUs is not wired in yet: use --device cpu, or one GPU "
                        "without the data-parallel options");
        // Joined before the data is decoded: a rank or master that is missing shows at once.
        parallel = std::make_unique<DataParallel>(config.distributed);
        observer->onMessage("Data-parallel: rank " + std::to_string(config.distributed.rank) +
                            " of " + std::to_string(config.distributed.worldSize) + " (Gloo via " +
                            config.distributed.masterAddress + ":" +
                            std::to_string(config.distributed.masterPort) + ")");
    }
    std::optional<RunData> data = loadData();
    if (!data)
        return finishCancelled();
    Session session = buildSession(*data);
    if (config.bottleneck && !prepareBottleneck(session, *data))
        return finishCancelled();
    if (resumeRun) {
        session.state = loadCheckpoint(checkpointPath, *session.model, *session.optimizer);
        observer->onMessage("Resuming after epoch " +
                            std::to_string(session.state.epochsCompleted));
        for (const EpochEnd& e : session.state.history)
            observer->onEpochEnd(e);
    }
    bool stoppedEarly = false;
    try {
        for (int epoch = session.state.epochsCompleted; epoch < config.epochs && !cancelled;
             ++epoch) {
            const std::optional<EpochTally> tally = trainEpoch(session, epoch);
            if (!tally)
                break;
            const std::optional<bool> stop = endEpoch(session, epoch, *tally);
            if (!stop)
                break;
            if (*stop) {
                stoppedEarly = true;
                break;
            }
        }
    } catch (const c10::OutOfMemoryError&) {
        stopForOutOfMemory(session);
    }
    return finish(session, stoppedEarly);
}

void Trainer::Impl::prepareRunFolder() {
    TrainConfig& c = config;
    validateTrainConfig(c);
    // Settled before anything is written: asking for a GPU that is not there leaves no run.
    configureThreads(c.threads);
    resolved = resolveDevice(c.device, c.precision);
    c.deviceUsed = deviceName(resolved.device);
    c.precisionUsed = precisionName(resolved.precision);
    device = torchDevice(resolved.device);
    runDir = fs::absolute(c.runDir).lexically_normal();
    checkpointPath = (runDir / "checkpoint.pt").string();
    // The starting weights bring their flavour and preprocessing; both go into config.json
    // and the weights' metadata, so that predict prepares images the same way. A resumed
    // run has them in its config.json already.
    if (!resumeRun)
        adoptStartingWeights(c);
    checkModelSettings(c);  // after a Keras backbone has set the flavour (its layer names)
    if (writes() && fs::is_directory(runDir))
        if (const int stale = removeStaleTemporaryFiles(runDir.string()))
            observer->onMessage("Removed " + std::to_string(stale) +
                                " temporary files left by a write that was killed");
    // config.json records absolute paths, so that the run folder resolves from itself.
    c.runDir = runDir.string();
    c.dataDir = fs::absolute(c.dataDir).lexically_normal().string();
    if (resumeRun) {
        if (!fs::exists(checkpointPath))
            throw Error(c.runDir,
                        "nothing to resume (no checkpoint.pt: the first epoch never finished); "
                        "start it again with the same data and --out");
        return;  // status.json is written once the data's classes are checked (loadData)
    }
    if (fs::exists(runDir / "config.json") && fs::exists(checkpointPath))
        throw Error(c.runDir,
                    "already holds a run (resume it with --resume, or choose another --out)");
    // A run that stopped before its first checkpoint has nothing to resume: it starts again
    // in the same folder (config.json is rewritten below).
    if (!writes())
        return;  // rank 0 makes the folder and writes every file of the run
    if (fs::exists(runDir / "config.json"))
        observer->onMessage(c.runDir +
                            ": its earlier run stopped before its first checkpoint; starting "
                            "again");
    fs::create_directories(runDir);
    writeConfig();
    status.start(runDir.string());
}

void Trainer::Impl::writeConfig() const {
    writeTextFileAtomically((runDir / "config.json").string(), toJson(config));
}

std::optional<Trainer::Impl::RunData> Trainer::Impl::loadData() {
    TrainConfig& c = config;
    ScanOptions scan;
    scan.validationFraction = c.validationFraction;
    scan.seed = c.seed;
    scan.cancel = &cancelled;
    scan.progress = [&](std::size_t d, std::size_t t) {
        observer->onProgress(Phase::Scanning, d, t);
    };
    RunData data;
    try {
        data.index = std::make_unique<DatasetIndex>(DatasetIndex::scan(c.dataDir, scan));
    } catch (const Error&) {
        if (!cancelled)
            throw;
        return std::nullopt;  // cancelled while scanning: not an error
    }
    DatasetIndex& index = *data.index;  // the cache records decode failures in it
    if (index.classNames().size() < 2)
        throw Error(c.dataDir, "a classifier needs at least two classes");
    if (resumeRun) {
        checkSameClasses(runDir.string(), c.dataDir, index.classNames());
        // What this session uses (a batch size chosen at resume, the device found now),
        // written once the data has been checked.
        if (writes()) {
            writeConfig();
            status.start(runDir.string());
        }
    }

    CacheOptions cacheOptions;
    cacheOptions.width = cacheOptions.height = c.model.inputSize;
    cacheOptions.memoryBudgetBytes = c.cacheBudgetBytes;
    data.cache = std::make_unique<ImageCache>(index, cacheOptions);
    data.cache->decodeAll(&cancelled, [&](std::size_t d, std::size_t t) {
        observer->onProgress(Phase::Decoding, d, t);
    });
    if (writes())
        writeTextFileAtomically((runDir / "import-report.json").string(),
                                datasetSummaryJson(index));
    if (cancelled)
        return std::nullopt;
    data.train = index.indices(Split::Train);
    data.validation = index.indices(Split::Validation);
    if (data.train.empty())
        throw Error(c.dataDir, "no training images");
    observer->onMessage(std::to_string(index.classNames().size()) + " classes, " +
                        std::to_string(data.train.size()) + " training and " +
                        std::to_string(data.validation.size()) + " validation images, " +
                        std::to_string(index.report().skipped.size()) + " skipped");
    return data;
}

Trainer::Impl::Session Trainer::Impl::buildSession(const RunData& data) {
    TrainConfig& c = config;
    c.model.classCount = int(data.index->classNames().size());
    torch::manual_seed(c.seed);
    Session s;
    s.model = makeClassifier(c.model);
    s.metadata = {c.model, data.index->classNames(), c.preprocessing};
    if (!c.initialWeights.empty()) {
        const PretrainedLoad loaded =
            loadPretrainedWeights(c.initialWeights, *s.model, c.initialKernelLayout);
        if (!loaded.description.empty())
            observer->onMessage(loaded.description + ", preprocessing '" + c.preprocessing.name +
                                "': " + describe(loaded.report));
        else
            observer->onMessage(std::string("Starting from ") + weightsFormatName(loaded.format) +
                                " " + c.initialWeights + " (preprocessing " + c.preprocessing.name +
                                "): " + describe(loaded.report));
    }
    if (!c.freezeUpTo.empty())
        s.model->freezeUpTo(c.freezeUpTo);
    s.model->setBatchNormInference(c.batchNormInference);
    if (c.bottleneck)
        observer->onMessage("Bottleneck features: training the head only (frozen up to " +
                            freezeForBottleneck(*s.model, c.freezeUpTo) + ")");

    s.model->to(device);
    if (device.is_cuda())
        at::globalContext().setBenchmarkCuDNN(true);
    observer->onMessage("Device " + resolved.description + ", precision " +
                        precisionName(resolved.precision) +
                        (c.precision == Precision::Auto ? " (auto)" : ""));
    observer->onDeviceChosen(resolved.description, precisionName(resolved.precision));
    if (c.batchSize == 0) {
        // --batch auto: the largest power of two that fits (on the CPU, 32).
        c.batchSize = device.is_cuda()
                          ? largestFittingBatch(*s.model, 4096, c.model.inputSize, device,
                                                resolved.precision, c.channelsLast)
                          : 32;
        if (c.batchSize == 0)
            throw Error(resolved.description, "not even a batch of one image fits in memory");
        observer->onMessage("Batch size " + std::to_string(c.batchSize) + " (auto)");
        if (writes())
            writeConfig();
    }
    if (c.channelsLast) {
        torch::NoGradGuard noGrad;
        for (auto& p : s.model->parameters())
            if (p.dim() == 4)
                p.set_data(p.data().contiguous(torch::MemoryFormat::ChannelsLast));
    }
    for (auto& p : s.model->parameters())
        if (p.requires_grad())
            s.trainable.push_back(p);
    if (s.trainable.empty())
        throw Error(c.freezeUpTo, "every layer is frozen: nothing to train");
    if (parallel) {
        // Every rank starts from rank 0's weights; gradients are averaged from here on.
        parallel->attach(s.model->parameters(), s.model->buffers());
        const int world = c.distributed.worldSize;
        observer->onMessage("Global batch " + std::to_string(world * c.batchSize) + " (" +
                            std::to_string(world) + " processes x " + std::to_string(c.batchSize) +
                            ")");
    }
    s.optimizer = makeOptimizer(c, s.trainable);
    s.scaler = LossScaler(resolved.precision == Precision::Fp16);

    s.loaderOptions.batchSize = c.batchSize;
    s.loaderOptions.seed = c.seed;
    s.loaderOptions.workers = c.loaderWorkers;
    s.loaderOptions.channelsLast = c.channelsLast;
    s.loaderOptions.augment = c.augment;
    s.loaderOptions.pinMemory = device.is_cuda();
    s.loaderOptions.preprocessing = c.preprocessing;
    s.loaderOptions.shardCount = c.distributed.worldSize;
    s.loaderOptions.shardIndex = c.distributed.rank;
    s.loaderOptions.padShards = true;  // every rank takes as many steps
    s.trainLoader =
        std::make_unique<BatchLoader>(*data.cache, data.train, c.augmentation, s.loaderOptions);
    LoaderOptions vo = s.loaderOptions;
    vo.augment = false;
    vo.shuffle = false;
    vo.padShards = false;  // each validation image counted once; the sums are reduced
    s.validationLoader =
        std::make_unique<BatchLoader>(*data.cache, data.validation, AugmentParams{}, vo);
    resetPeakDeviceMemory(device);
    return s;
}

bool Trainer::Impl::prepareBottleneck(Session& s, const RunData& data) {
    s.features = prepareBottleneckFeatures(*s.model, *data.cache, config, s.loaderOptions, device,
                                           cancelled, *observer);
    if (!s.features)
        return false;
    s.featureBatches.emplace(s.features->train, config.batchSize, config.seed);
    return true;
}

void Trainer::Impl::setActiveLoader(BatchLoader* loader) {
    std::lock_guard lock(mutex);
    activeLoader = loader;
}

std::optional<Trainer::Impl::EpochTally> Trainer::Impl::trainEpoch(Session& s, int epoch) {
    const TrainConfig& c = config;
    EpochTally t;
    t.learningRate = scheduledLearningRate(config, epoch, s.state);
    for (auto& group : s.optimizer->param_groups())
        group.options().set_lr(t.learningRate);
    s.model->train();
    t.start = Clock::now();
    BatchLoader& loader = *s.trainLoader;
    setActiveLoader(&loader);
    if (s.featureBatches)
        s.featureBatches->startEpoch(epoch);
    else
        loader.startEpoch(epoch);
    if (cancelled && !parallel)
        loader.stop();
    const std::int64_t batchesPerEpoch =
        s.featureBatches ? s.featureBatches->batchesPerEpoch() : loader.batchesPerEpoch();
    while (auto batch = s.featureBatches ? s.featureBatches->next() : loader.next()) {
        waitWhilePaused();
        // Every rank stops at the same step when any is cancelled (Ctrl-C, the window).
        if (parallel && parallel->any(cancelled))
            cancelled = true;
        if (cancelled)
            break;
        if (batch->labels.size(0) == 0)
            continue;  // every image of it was left out (reported at the epoch's end)
        const auto batchStart = Clock::now();
        const torch::Tensor x = batch->images.to(device, /*non_blocking=*/true);
        const torch::Tensor y = batch->labels.to(device, true);
        s.optimizer->zero_grad();
        if (parallel)
            parallel->beforeForward();
        torch::Tensor logits, loss;
        {
            AutocastScope autocast(device, resolved.precision);
            injectOutOfMemoryIfAsked(x.size(0));
            logits = s.features ? s.model->forwardHead(x) : s.model->forward(x);
            loss = torch::nn::functional::cross_entropy(logits, y);
        }
        if (parallel)
            parallel->beforeBackward();
        try {
            s.scaler.scaled(loss).backward();
        } catch (const c10::OutOfMemoryError&) {
            throw;
        } catch (const c10::Error& e) {
            // The gradients' allreduce runs inside backward.
            if (parallel)
                parallel->broken("the gradient allreduce", e.what_without_backtrace());
            throw;
        } catch (const std::exception& e) {  // Gloo's own, a timeout among them
            if (parallel && !dynamic_cast<const Error*>(&e))
                parallel->broken("the gradient allreduce", e.what());
            throw;
        }
        const bool finite = s.scaler.unscale(s.trainable);
        if (finite)
            s.optimizer->step();
        s.scaler.update(finite);
        countTrainingStep();
        const std::int64_t n = y.size(0);
        const double batchLoss = loss.item<double>();
        // fp16's scaler skips a step whose gradients overflow; a loss that is itself not
        // finite means the weights are lost (a learning rate far too high): stop, keeping the
        // last checkpoint, which holds the last good weights.
        if (!std::isfinite(batchLoss))
            throw Error(c.runDir, "the loss became " +
                                      std::string(std::isnan(batchLoss) ? "NaN" : "infinite") +
                                      " in epoch " + std::to_string(epoch + 1) + ", batch " +
                                      std::to_string(batch->index + 1) + " (learning rate " +
                                      std::to_string(t.learningRate) +
                                      "): training stopped; the last checkpoint (" +
                                      std::to_string(s.state.epochsCompleted) +
                                      " epochs) is kept. Try a smaller learning rate.");
        const std::int64_t batchCorrect = logits.argmax(1).eq(y).sum().item<std::int64_t>();
        t.lossSum += batchLoss * double(n);
        t.correct += batchCorrect;
        t.seen += n;
        BatchEnd b;
        b.epoch = epoch + 1;
        b.batch = batch->index + 1;
        b.batchesPerEpoch = batchesPerEpoch;
        b.loss = batchLoss;
        b.accuracy = double(batchCorrect) / double(n);
        b.imagesPerSecond = double(n) / std::max(1e-9, secondsSince(batchStart));
        b.epochSeconds = secondsSince(t.start);
        b.epochImagesPerSecond = double(t.seen) / std::max(1e-9, b.epochSeconds);
        observer->onBatchEnd(b);
    }
    setActiveLoader(nullptr);
    if (cancelled)
        return std::nullopt;
    return t;
}

std::optional<bool> Trainer::Impl::endEpoch(Session& s, int epoch, const EpochTally& t) {
    const TrainConfig& c = config;
    Evaluation val;
    {
        AutocastScope autocast(device, resolved.precision);
        // Each rank evaluates its shard to the end; a cancel counts once all agree, below.
        std::atomic<bool>* cancel = parallel ? nullptr : &cancelled;
        val = s.features
                  ? evaluateHead(*s.model, s.features->validation, c.batchSize, device, cancel)
                  : evaluateModel(*s.model, *s.validationLoader, device, false, cancel);
    }
    EpochTally tally = t;
    if (parallel) {
        reduceAcrossRanks(val, tally);
        if (parallel->any(cancelled))
            cancelled = true;
    }
    if (cancelled)
        return std::nullopt;
    for (BatchLoader* loader : {s.trainLoader.get(), s.validationLoader.get()})
        for (const auto& [sample, reason] : loader->takeSkipped())
            observer->onMessage("Left out from now on: " + reason);
    EpochEnd e;
    e.epoch = epoch + 1;
    e.trainLoss = tally.seen ? tally.lossSum / double(tally.seen) : 0;
    e.trainAccuracy = tally.seen ? double(tally.correct) / double(tally.seen) : 0;
    e.validationLoss = val.loss;
    e.validationAccuracy = val.accuracy();
    e.learningRate = t.learningRate;
    e.seconds = secondsSince(t.start);

    TrainingState& state = s.state;
    state.history.push_back(e);
    state.epochsCompleted = epoch + 1;
    const bool stopEarly = recordValidationLoss(c, t.learningRate, e.validationLoss, state);
    if (writes()) {
        saveCheckpoint(checkpointPath, *s.model, *s.optimizer, state);
        // A snapshot for classifying while training goes on (the UI reads it on another
        // thread).
        saveModelWeights((runDir / "latest.h5").string(), *s.model, s.metadata);
        writeTextFileAtomically((runDir / "history.csv").string(), historyCsv(state.history));
        writeConfusionRecord(runDir.string(), {e.epoch, s.metadata.classNames, val.confusion});
        observer->onCheckpoint(checkpointPath);
    }
    observer->onEpochEnd(e);
    if (stopEarly)
        observer->onMessage("Early stopping: validation loss has not improved for " +
                            std::to_string(state.epochsSinceBest) + " epochs");
    return stopEarly;
}

void Trainer::Impl::stopForOutOfMemory(Session& s) {
    const TrainConfig& c = config;
    // The epoch in progress is lost; checkpoint.pt and latest.h5 are the last epoch's.
    setActiveLoader(nullptr);
    s.trainLoader->stop();
    s.optimizer->zero_grad();
    releaseCachedDeviceMemory(device);
    observer->onMessage("Out of memory at batch size " + std::to_string(c.batchSize) +
                        ": looking for the largest batch that fits");
    const int fits = largestFittingBatch(*s.model, c.batchSize - 1, c.model.inputSize, device,
                                         resolved.precision, c.channelsLast);
    const std::string free =
        device.is_cuda() ? " (" + gibibytesText(freeDeviceMemoryBytes(device)) + " free)" : "";
    std::string reason = "out of memory on " + resolved.description + free + " at batch size " +
                         std::to_string(c.batchSize) + "; ";
    reason += fits > 0 ? "the largest batch that fits is " + std::to_string(fits)
                       : "not even a batch of one image fits";
    reason += ". Training stopped at its last checkpoint (" +
              std::to_string(s.state.epochsCompleted) + " epochs done)";
    if (fits > 0)
        reason += ": resume it with batch size " + std::to_string(fits);
    throw OutOfMemory(c.runDir, reason, c.batchSize, fits);
}

void Trainer::Impl::reduceAcrossRanks(Evaluation& val, EpochTally& t) {
    // One sum for all: the training tally, the validation loss and the confusion counts (a
    // rank without validation images still sends its zeros).
    const std::size_t classes =
        config.model.classCount > 0 ? std::size_t(config.model.classCount) : val.confusion.size();
    val.confusion.resize(classes);
    for (auto& row : val.confusion)
        row.resize(classes, 0);
    std::vector<double> values{t.lossSum, double(t.correct), double(t.seen),
                               val.loss * double(val.samples), double(val.samples)};
    for (const auto& row : val.confusion)
        for (std::int64_t count : row)
            values.push_back(double(count));
    const std::vector<double> total = parallel->sum(values);
    t.lossSum = total[0];
    t.correct = std::int64_t(total[1]);
    t.seen = std::int64_t(total[2]);
    val.samples = std::int64_t(total[4]);
    val.loss = val.samples ? total[3] / double(val.samples) : 0;
    std::size_t k = 5;
    for (auto& row : val.confusion)
        for (std::int64_t& count : row)
            count = std::int64_t(total[k++]);
}

TrainingResult Trainer::Impl::finishCancelled() {
    if (writes())
        status.end(RunState::Interrupted);
    TrainingResult result;
    result.cancelled = true;
    observer->onFinished(result);
    return result;
}

TrainingResult Trainer::Impl::finish(Session& s, bool stoppedEarly) {
    TrainingResult result;
    result.cancelled = cancelled;
    result.stoppedEarly = stoppedEarly;
    result.peakDeviceMemoryBytes = peakDeviceMemoryBytes(device);
    result.epochsCompleted = s.state.epochsCompleted;
    result.history = s.state.history;
    if (!s.state.history.empty()) {
        result.finalValidationAccuracy = s.state.history.back().validationAccuracy;
        result.finalValidationLoss = s.state.history.back().validationLoss;
    }
    if (!cancelled && writes()) {
        result.weightsPath = (runDir / "weights.h5").string();
        s.model->to(torch::kCPU);
        saveModelWeights(result.weightsPath, *s.model, s.metadata);
    }
    if (parallel)
        parallel->barrier();  // rank 0's files are written when every rank returns
    if (writes())
        status.end(cancelled ? RunState::Interrupted : RunState::Finished);
    observer->onFinished(result);
    return result;
}

}  // namespace convscope
