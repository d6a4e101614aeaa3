#include "train/finetuner.h"

#include "dist/dataparallel.h"
#include "error.h"
#include "models/finetuning.h"
#include "runtime.h"
#include "train/confusionrecord.h"
#include "train/runcontrol.h"
#include "train/runfolder.h"
#include "train/runstatus.h"
#include "train/trainer.h"
#include "util/atomicfile.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>

namespace convscope {

namespace fs = std::filesystem;

namespace {

void copyFileAtomically(const std::string& from, const std::string& to) {
    replaceFileAtomically(to, [&](const std::string& temp) {
        std::error_code error;
        fs::copy_file(from, temp, fs::copy_options::overwrite_existing, error);
        if (error)
            throw Error(to, "cannot copy " + from + " (" + error.message() + ")");
    });
}

/// Hands one phase's events on: epochs numbered on from the earlier phase, marked with the
/// phase; the recipe's history.csv and latest.h5 kept up to date.
class PhaseObserver : public TrainingObserver {
public:
    PhaseObserver(TrainingObserver& outer, int phase, int epochOffset, const fs::path& runDir,
                  const fs::path& phaseDir, std::vector<EpochEnd>& history, RunStatusRecord* status)
        : m_outer(outer),
          m_status(status),
          m_phase(phase),
          m_offset(epochOffset),
          m_runDir(runDir),
          m_phaseDir(phaseDir),
          m_history(history) {}

    void onProgress(Phase p, std::size_t done, std::size_t total) override {
        m_outer.onProgress(p, done, total);
    }
    void onMessage(const std::string& text) override {
        m_outer.onMessage("Phase " + std::to_string(m_phase) + ": " + text);
    }
    void onBatchEnd(const BatchEnd& event) override {
        BatchEnd e = event;
        e.epoch += m_offset;
        m_outer.onBatchEnd(e);
    }
    void onCheckpoint(const std::string& path) override {
        // A snapshot to classify with while the recipe runs, whichever phase writes it.
        if (!m_status)
            return m_outer.onCheckpoint(path);
        try {
            copyFileAtomically((m_phaseDir / "latest.h5").string(),
                               (m_runDir / "latest.h5").string());
        } catch (const Error& e) {
            m_outer.onMessage(e.what());
        }
        m_outer.onCheckpoint(path);
    }
    void onEpochEnd(const EpochEnd& event) override {
        EpochEnd e = event;
        e.epoch += m_offset;
        e.phase = m_phase;
        m_history.push_back(e);
        if (!m_status)
            return m_outer.onEpochEnd(e);
        try {
            writeTextFileAtomically((m_runDir / "history.csv").string(), historyCsv(m_history));
            if (std::optional<ConfusionRecord> confusion =
                    readConfusionRecord(m_phaseDir.string())) {
                confusion->epoch += m_offset;
                writeConfusionRecord(m_runDir.string(), *confusion);
            }
        } catch (const Error& error) {
            m_outer.onMessage(error.what());
        }
        m_outer.onEpochEnd(e);
    }
    void onPaused(bool paused) override {
        if (m_status)
            m_status->setPaused(paused);  // the recipe's folder shows it too
        m_outer.onPaused(paused);
    }
    // onFinished: the recipe reports once, at its own end.

private:
    TrainingObserver& m_outer;
    RunStatusRecord* m_status;  ///< the recipe's; null on the ranks that do not write
    int m_phase;
    int m_offset;
    fs::path m_runDir;
    fs::path m_phaseDir;
    std::vector<EpochEnd>& m_history;
};

const char* phaseFolder(int phase) {
    return phase == 1 ? "head" : "finetune";
}

}  // namespace

FineTuner::FineTuner(FineTuneConfig config, TrainingObserver* observer, bool resumeRun)
    : m_config(std::move(config)), m_resumeRun(resumeRun) {
    m_observer = &observerOrSilent(observer);
}

FineTuner::~FineTuner() = default;

void FineTuner::pause() {
    std::lock_guard lock(m_mutex);
    m_paused = true;
    if (m_active)
        m_active->pause();
}

void FineTuner::resume() {
    std::lock_guard lock(m_mutex);
    m_paused = false;
    if (m_active)
        m_active->resume();
}

void FineTuner::cancel() {
    std::lock_guard lock(m_mutex);
    m_cancelled = true;
    if (m_active)
        m_active->cancel();
}

TrainConfig FineTuner::phaseConfig(const FineTuneConfig& config, int phase) {
    TrainConfig c = config.base;
    c.runDir = (fs::path(config.base.runDir) / phaseFolder(phase)).string();
    if (phase == 1) {
        c.epochs = config.headEpochs;
        c.freezeUpTo = backboneOutputLayer(c.model);
        return c;
    }
    c.epochs = config.fineTuneEpochs;
    c.initialWeights = (fs::path(config.base.runDir) / phaseFolder(1) / "weights.h5").string();
    c.initialKernelLayout = KernelLayout::Auto;  // phase 1 wrote it in ConvScope's layout
    c.freezeUpTo = lastBlockFreezePoint(c.model);
    c.bottleneck = false;
    c.featuresCache.clear();
    c.optimizer = OptimizerKind::Sgd;
    c.learningRate = config.fineTuneLearningRate;
    c.momentum = config.fineTuneMomentum;
    c.nesterov = false;
    c.schedule = Schedule::Constant;
    c.batchNormInference = config.batchNormInference;
    return c;
}

FineTuneConfig FineTuner::resumeConfig(const std::string& runDir) {
    return atBoundary(runDir, [&] {
        const std::string path = (fs::path(runDir) / "recipe.json").string();
        if (!fs::exists(path))
            throw Error(runDir, "not a fine-tuning run directory (no recipe.json)");
        try {
            const nlohmann::json j = nlohmann::json::parse(readTextFile(path));
            FineTuneConfig c;
            c.base = trainConfigFromJson(j.at("train").dump(), path);
            c.headEpochs = j.at("head_epochs");
            c.fineTuneEpochs = j.at("finetune_epochs");
            c.fineTuneLearningRate = j.at("finetune_learning_rate");
            c.fineTuneMomentum = j.at("finetune_momentum");
            c.batchNormInference = j.value("finetune_batch_norm_inference", false);
            return c;
        } catch (const nlohmann::json::exception& e) {
            throw Error(path, std::string("bad recipe (") + e.what() + ")");
        }
    });
}

TrainingResult FineTuner::runPhase(int phase, int epochOffset, std::vector<EpochEnd>& history,
                                   RunStatusRecord* status) {
    TrainConfig config = phaseConfig(m_config, phase);
    const fs::path dir(config.runDir);
    const bool writes = config.distributed.writes();
    // A phase folder without a checkpoint holds no finished epoch: start that phase afresh.
    // Rank 0 decides for every rank: the others may not see the folder.
    bool resumePhase = writes && fs::exists(dir / "checkpoint.pt");
    if (m_parallel)
        resumePhase = m_parallel->any(resumePhase);
    if (writes && !resumePhase && fs::exists(dir))
        fs::remove_all(dir);
    if (resumePhase) {
        // What the command line settles for this process is not in the phase's config.json.
        config = Trainer::resumeConfig(config.runDir);
        config.distributed = m_config.base.distributed;
        config.decodedStore = m_config.base.decodedStore;
        config.threads = m_config.base.threads;
    } else if (!writes && phase == 2) {
        config.initialWeights.clear();  // rank 0's phase-1 weights arrive by broadcast
    }
    PhaseObserver observer(*m_observer, phase, epochOffset, m_config.base.runDir, dir, history,
                           status);
    Trainer trainer(config, &observer, resumePhase);
    trainer.shareDataParallel(m_parallel);
    trainer.obeyRequestsIn(m_config.base.runDir);  // the recipe's control.json
    {
        std::lock_guard lock(m_mutex);
        m_active = &trainer;
        if (m_paused)
            trainer.pause();
        if (m_cancelled)
            trainer.cancel();
    }
    struct Release {
        FineTuner* self;
        ~Release() {
            std::lock_guard lock(self->m_mutex);
            self->m_active = nullptr;
        }
    } release{this};
    return trainer.run();
}

void FineTuner::startRecipe() {
    const FineTuneConfig& c = m_config;
    const fs::path runDir(c.base.runDir);
    // Both phases and the recipe must agree on what the starting weights decide (a Keras
    // backbone's layer names choose the last block).
    TrainConfig settings = m_config.base;
    settings.epochs = c.headEpochs;  // each phase sets its own
    validateTrainConfig(settings);
    adoptStartingWeights(m_config.base);
    checkModelSettings(m_config.base);
    if (!c.base.distributed.writes())
        return;
    if (fs::exists(runDir / "recipe.json") || fs::exists(runDir / "config.json"))
        throw Error(c.base.runDir,
                    "already holds a run (resume it with --resume, or choose another --out)");
    fs::create_directories(runDir);
    nlohmann::json j{{"recipe", "two-phase"},
                     {"head_epochs", c.headEpochs},
                     {"finetune_epochs", c.fineTuneEpochs},
                     {"finetune_learning_rate", c.fineTuneLearningRate},
                     {"finetune_momentum", c.fineTuneMomentum},
                     {"finetune_batch_norm_inference", c.batchNormInference},
                     {"last_block", lastBlockName(c.base.model)},
                     {"train", nlohmann::json::parse(toJson(c.base))}};
    writeTextFileAtomically((runDir / "recipe.json").string(), j.dump(2));
}

TrainingResult FineTuner::run() {
    return atBoundary(m_config.base.runDir, [&] {
        const FineTuneConfig& c = m_config;
        if (c.headEpochs <= 0 || c.fineTuneEpochs <= 0)
            throw Error("fine-tuning", "both phases need at least one epoch");
        // Joined first, so that a rank that cannot start stops the others at once.
        if (c.base.distributed.distributed()) {
            DistributedSetup setup = c.base.distributed;
            const ResolvedDevice device = resolveDevice(deviceForRank(c.base), c.base.precision);
            setup.gpu = device.device.kind == DeviceChoice::Kind::Cuda ? device.device.index : -1;
            m_parallel = std::make_shared<DataParallel>(setup);
        }
        std::exception_ptr failure;
        try {
            if (!m_resumeRun)
                startRecipe();
        } catch (...) {
            failure = std::current_exception();
        }
        if (m_parallel && m_parallel->any(bool(failure)) && !failure)
            throw Error(c.base.runDir,
                        "another rank could not start the recipe (its message says why)");
        if (failure)
            std::rethrow_exception(failure);
        if (!c.base.distributed.writes())
            return runPhases(nullptr);
        clearRunRequests(c.base.runDir);  // an earlier session's requests are gone
        RunStatusRecord status;
        status.start(c.base.runDir);
        try {
            return runPhases(&status);
        } catch (...) {
            status.endWithCurrentException();
            throw;
        }
    });
}

TrainingResult FineTuner::runPhases(RunStatusRecord* status) {
    const FineTuneConfig& c = m_config;
    const fs::path runDir(c.base.runDir);
    std::vector<EpochEnd> history;
    TrainingResult result;
    m_observer->onMessage(std::string("Phase 1: training the head with the backbone frozen") +
                          (c.base.bottleneck ? ", from bottleneck features" : ""));
    const TrainingResult head = runPhase(1, 0, history, status);
    if (!head.cancelled && !m_cancelled) {
        char settings[96];
        std::snprintf(settings, sizeof settings, "SGD, learning rate %g, momentum %g",
                      c.fineTuneLearningRate, c.fineTuneMomentum);
        m_observer->onMessage("Phase 2: fine-tuning " + lastBlockName(c.base.model) +
                              " and the head with " + settings);
        result = runPhase(2, head.epochsCompleted, history, status);
        result.seconds += head.seconds;  // the recipe's time is both phases'
    } else {
        result = head;
    }
    result.cancelled = result.cancelled || head.cancelled || m_cancelled;
    result.history = history;
    result.epochsCompleted = int(history.size());
    result.weightsPath.clear();
    if (!result.cancelled && status) {
        result.weightsPath = (runDir / "weights.h5").string();
        copyFileAtomically((runDir / phaseFolder(2) / "weights.h5").string(), result.weightsPath);
    }
    if (status)
        status->end(result.cancelled ? RunState::Interrupted : RunState::Finished);
    m_observer->onFinished(result);
    return result;
}

}  // namespace convscope
