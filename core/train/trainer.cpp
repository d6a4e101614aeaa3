#include "train/trainer.h"

#include "data/reportjson.h"
#include "error.h"
#include "io/modelweights.h"
#include "runtime.h"
#include "train/checkpoint.h"
#include "train/confusionrecord.h"
#include "train/optimization.h"
#include "train/runfolder.h"
#include "train/trainerimpl.h"
#include "util/atomicfile.h"
#include "util/cpuallocator.h"

#include <algorithm>
#include <cmath>

namespace convscope {

Trainer::Trainer(TrainConfig config, TrainingObserver* observer, bool resumeRun)
    : m_impl(std::make_unique<Impl>()) {
    m_impl->config = std::move(config);
    m_impl->observer = &observerOrSilent(observer);
    m_impl->resumeRun = resumeRun;
}

Trainer::~Trainer() = default;

void Trainer::pause() {
    m_impl->requestPause(true);
}

void Trainer::resume() {
    m_impl->requestPause(false);
}

void Trainer::cancel() {
    m_impl->requestCancel();
}

void Trainer::obeyRequestsIn(const std::string& folder) {
    m_impl->controlFolder = folder;
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

void Trainer::shareDataParallel(std::shared_ptr<DataParallel> group) {
    m_impl->parallel = std::move(group);
}

TrainConfig Trainer::resumeConfig(const std::string& runDir) {
    return atBoundary(runDir, [&] { return readRunConfig(runDir); });
}

TrainingResult Trainer::run() {
    return atBoundary(m_impl->config.runDir, [&] {
        try {
            TrainingResult result = m_impl->run();
            releaseCachedCpuMemory();  // the run's tensors are gone; a window lives on
            return result;
        } catch (...) {
            releaseCachedCpuMemory();
            m_impl->status.endWithCurrentException();
            throw;
        }
    });
}

TrainingResult Trainer::Impl::run() {
    runStart = Clock::now();
    prepareRunFolder();
    if (writes()) {
        // Requests made while this session trains (an earlier session's are gone).
        if (controlFolder.empty()) {
            controlFolder = runDir.string();
            clearRunRequests(controlFolder);
        }
        control.emplace(controlFolder);
    }
    if (config.distributed.distributed()) {
        // On GPUs, one per rank (cuda:LOCAL_RANK), reduced with NCCL.
        config.distributed.gpu = device.is_cuda() ? device.index() : -1;
        // Joined before the data is decoded: a rank or master that is missing shows at once.
        if (!parallel)
            parallel = std::make_shared<DataParallel>(config.distributed);
        else if (parallel->setup().gpu != config.distributed.gpu)
            throw Error(resolved.description,
                        "the data-parallel group was joined for another device");
        observer->onMessage("Data-parallel: rank " + std::to_string(config.distributed.rank) +
                            " of " + std::to_string(config.distributed.worldSize) + " (" +
                            (device.is_cuda() ? "NCCL on " + resolved.description + ", " : "") +
                            "Gloo via " + config.distributed.masterAddress + ":" +
                            std::to_string(config.distributed.masterPort) + ")");
    }
    std::optional<RunData> data = loadData();
    // A rank cancelled while decoding tells the others, which would otherwise wait for it.
    if (parallel ? parallel->any(!data) : !data)
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
        for (int epoch = session.state.epochsCompleted; epoch < config.epochs && !isCancelled();
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
    } catch (const Error&) {
        throw;
    } catch (const std::exception& e) {
        // A collective that broke where no wrapper saw it (Gloo raises in its own threads).
        if (parallel)
            parallel->broken("training", e.what());
        throw;
    }
    return finish(session, stoppedEarly);
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
    const auto nextBatch = [&] {
        const auto waitStart = Clock::now();
        auto batch = s.featureBatches ? s.featureBatches->next() : loader.next();
        stages.batchWait += secondsSince(waitStart);
        return batch;
    };
    while (auto batch = nextBatch()) {
        // Every rank pauses and stops at the same step, whichever was asked (Ctrl-C, the
        // window, control.json).
        if (agreeOnControl())
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
        const auto stepStart = Clock::now();
        stages.forwardBackward += std::chrono::duration<double>(stepStart - batchStart).count();
        const bool finite = s.scaler.unscale(s.trainable);
        if (finite)
            s.optimizer->step();
        s.scaler.update(finite);
        stages.optimizer += secondsSince(stepStart);
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
    if (isCancelled())
        return std::nullopt;
    return t;
}

std::optional<bool> Trainer::Impl::endEpoch(Session& s, int epoch, const EpochTally& t) {
    const TrainConfig& c = config;
    Evaluation val;
    const auto validationStart = Clock::now();
    {
        AutocastScope autocast(device, resolved.precision);
        // Each rank evaluates its shard to the end; a cancel counts once all agree, below.
        std::atomic<bool>* cancel = parallel ? nullptr : &cancelled;
        val = s.features
                  ? evaluateHead(*s.model, s.features->validation, c.batchSize, device, cancel)
                  : evaluateModel(*s.model, *s.validationLoader, device, false, cancel);
    }
    stages.validation += secondsSince(validationStart);
    EpochTally tally = t;
    if (parallel)
        reduceAcrossRanks(val, tally);
    if (agreeOnControl())
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
        const auto writeStart = Clock::now();
        saveCheckpoint(checkpointPath, *s.model, *s.optimizer, state);
        // A snapshot for classifying while training goes on (the UI reads it on another
        // thread).
        saveModelWeights((runDir / "latest.h5").string(), *s.model, s.metadata);
        writeTextFileAtomically((runDir / "history.csv").string(), historyCsv(state.history));
        writeConfusionRecord(runDir.string(), {e.epoch, s.metadata.classNames, val.confusion});
        stages.writes += secondsSince(writeStart);
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
    // Each rank's training throughput in its own slot, for the window's live view.
    const int world = config.distributed.worldSize;
    const std::size_t throughputAt = values.size();
    values.resize(values.size() + std::size_t(world), 0.0);
    values[throughputAt + std::size_t(config.distributed.rank)] =
        double(t.seen) / std::max(1e-9, secondsSince(t.start));
    const std::vector<double> total = parallel->sum(values);
    if (writes())
        status.setRankThroughput(
            std::vector<double>(total.begin() + long(throughputAt), total.end()));
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
    result.cancelled = isCancelled();
    result.stoppedEarly = stoppedEarly;
    result.peakDeviceMemoryBytes = peakDeviceMemoryBytes(device);
    result.epochsCompleted = s.state.epochsCompleted;
    result.history = s.state.history;
    if (!s.state.history.empty()) {
        result.finalValidationAccuracy = s.state.history.back().validationAccuracy;
        result.finalValidationLoss = s.state.history.back().validationLoss;
    }
    if (!result.cancelled && writes()) {
        const auto writeStart = Clock::now();
        result.weightsPath = (runDir / "weights.h5").string();
        s.model->to(torch::kCPU);
        saveModelWeights(result.weightsPath, *s.model, s.metadata);
        stages.writes += secondsSince(writeStart);
    }
    if (parallel)
        parallel->barrier();  // rank 0's files are written when every rank returns
    if (writes())
        status.end(result.cancelled ? RunState::Interrupted : RunState::Finished);
    stages.augment = s.trainLoader ? s.trainLoader->assemblySeconds() : 0;
    stages.total = secondsSince(runStart);
    result.seconds = stages;
    observer->onFinished(result);
    return result;
}

}  // namespace convscope
