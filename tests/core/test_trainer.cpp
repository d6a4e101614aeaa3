#include "train/trainer.h"

#include "error.h"
#include "inspect/predictor.h"
#include "io/kerasweights.h"
#include "testimages.h"
#include "trainerfixtures.h"
#include "util/atomicfile.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <cmath>
#include <functional>
#include <filesystem>
#include <fstream>
#include <thread>

using namespace convscope;
using namespace convscope::test;
namespace fs = std::filesystem;

namespace {

struct Recorder : TrainingObserver {
    std::vector<BatchEnd> batches;
    std::vector<EpochEnd> epochs;
    std::vector<std::string> checkpoints;
    std::function<void(const BatchEnd&)> afterBatch;
    std::function<void(const EpochEnd&)> afterEpoch;
    void onBatchEnd(const BatchEnd& e) override {
        batches.push_back(e);
        if (afterBatch)
            afterBatch(e);
    }
    void onEpochEnd(const EpochEnd& e) override {
        epochs.push_back(e);
        if (afterEpoch)
            afterEpoch(e);
    }
    void onCheckpoint(const std::string& p) override { checkpoints.push_back(p); }
    void onPaused(bool paused) override {
        if (paused)
            pausedTakesEffect = true;
    }
    std::atomic<bool> pausedTakesEffect{false};
};

}  // namespace

TEST(Trainer, learnsASeparableDatasetAndWritesTheRunDirectory) {
    TempDir dir;
    makeColourDataset(dir, 20);
    Recorder recorder;
    Trainer trainer(smallConfig(dir, "run", 3), &recorder);
    const TrainingResult result = trainer.run();
    EXPECT_FALSE(result.cancelled);
    EXPECT_EQ(result.epochsCompleted, 3);
    EXPECT_EQ(result.finalValidationAccuracy, 1.0);
    ASSERT_EQ(recorder.epochs.size(), 3u);
    EXPECT_EQ(recorder.batches.size(), 3u * 4u);  // 32 training images, batches of 8
    EXPECT_EQ(recorder.checkpoints.size(), 3u);
    for (const char* file :
         {"config.json", "history.csv", "checkpoint.pt", "weights.h5", "import-report.json"})
        EXPECT_TRUE(fs::exists(dir.path() + "/run/" + file)) << file;

    const KerasWeightsFile weights = readKerasWeights(dir.path() + "/run/weights.h5");
    ASSERT_EQ(weights.layers.front().name, "conv2d");
    EXPECT_EQ(weights.layers.front().weights.front().shape,
              (std::vector<std::int64_t>{3, 3, 3, 32}));

    Predictor predictor(dir.path() + "/run/weights.h5");
    EXPECT_EQ(predictor.metadata().classNames, (std::vector<std::string>{"blue", "red"}));
    const auto predictions =
        predictor.predictFiles({dir.path() + "/data/red/3.png", dir.path() + "/data/blue/5.png"});
    EXPECT_EQ(predictions[0].top, 1);
    EXPECT_EQ(predictions[1].top, 0);
    const Evaluation e = predictor.evaluate(dir.path() + "/data", std::nullopt, 0.2, 7);
    EXPECT_EQ(e.samples, 40);
    EXPECT_EQ(e.accuracy(), 1.0);
    EXPECT_EQ(e.recall(0), 1.0);
}

TEST(Trainer, cancelStopsWithinOneBatch) {
    TempDir dir;
    makeColourDataset(dir, 20);
    Recorder recorder;
    Trainer trainer(smallConfig(dir, "run", 5), &recorder);
    recorder.afterBatch = [&](const BatchEnd& b) {
        if (b.epoch == 2 && b.batch == 1)
            trainer.cancel();
    };
    const TrainingResult result = trainer.run();
    EXPECT_TRUE(result.cancelled);
    EXPECT_EQ(result.epochsCompleted, 1);
    EXPECT_EQ(recorder.batches.size(), 5u);  // 4 in epoch 1, then the one that cancelled
    EXPECT_TRUE(result.weightsPath.empty());
    EXPECT_TRUE(fs::exists(dir.path() + "/run/checkpoint.pt"));
}

TEST(Trainer, pauseHoldsTrainingUntilResumed) {
    TempDir dir;
    makeColourDataset(dir, 10);
    Recorder recorder;
    Trainer trainer(smallConfig(dir, "run", 1), &recorder);
    recorder.afterBatch = [&](const BatchEnd& b) {
        if (b.batch == 1)
            trainer.pause();
    };
    std::thread resumer([&] {
        // The trainer says when the pause has taken effect; until resumed nothing more runs.
        while (!recorder.pausedTakesEffect)
            std::this_thread::yield();
        EXPECT_EQ(recorder.batches.size(), 1u);
        EXPECT_TRUE(trainer.isPaused());
        trainer.resume();
    });
    const TrainingResult result = trainer.run();
    resumer.join();
    EXPECT_EQ(result.epochsCompleted, 1);
    EXPECT_EQ(recorder.batches.size(), 2u);
}

TEST(Trainer, resumingFromACheckpointContinuesTheSameCurve) {
    TempDir dir;
    makeColourDataset(dir, 20);
    TrainConfig straight = smallConfig(dir, "straight", 4);
    straight.optimizer = OptimizerKind::RmsProp;
    straight.threads = 1;
    const TrainingResult uninterrupted = Trainer(straight, nullptr).run();

    TrainConfig interrupted = straight;
    interrupted.runDir = dir.path() + "/interrupted";
    {
        Recorder recorder;
        Trainer first(interrupted, &recorder);
        recorder.afterBatch = [&](const BatchEnd& b) {
            if (b.epoch == 3 && b.batch == 2)
                first.cancel();  // mid-epoch, as a crash would
        };
        EXPECT_TRUE(first.run().cancelled);
    }
    Trainer second(Trainer::resumeConfig(interrupted.runDir), nullptr, /*resumeRun=*/true);
    const TrainingResult resumed = second.run();
    ASSERT_EQ(resumed.history.size(), uninterrupted.history.size());
    for (std::size_t i = 0; i < resumed.history.size(); ++i) {
        EXPECT_NEAR(resumed.history[i].trainLoss, uninterrupted.history[i].trainLoss, 1e-5)
            << "epoch " << i + 1;
        EXPECT_NEAR(resumed.history[i].validationLoss, uninterrupted.history[i].validationLoss,
                    1e-5)
            << "epoch " << i + 1;
    }
}

TEST(Trainer, refusesToOverwriteARunAndExplainsBadInput) {
    TempDir dir;
    makeColourDataset(dir, 4);
    TrainConfig c = smallConfig(dir, "run", 1);
    Trainer(c, nullptr).run();
    EXPECT_THROW(Trainer(c, nullptr).run(), Error);
    TrainConfig missing = smallConfig(dir, "run2", 1);
    missing.dataDir = dir.path() + "/nope";
    EXPECT_THROW(Trainer(missing, nullptr).run(), Error);
    TrainConfig frozen = smallConfig(dir, "run3", 1);
    frozen.freezeUpTo = "no_such_layer";
    EXPECT_THROW(Trainer(frozen, nullptr).run(), Error);
    // Resuming a finished run changes nothing and says so by completing at once.
    const TrainingResult again =
        Trainer(Trainer::resumeConfig(dir.path() + "/run"), nullptr, true).run();
    EXPECT_EQ(again.epochsCompleted, 1);
}

TEST(Trainer, badNumbersAreRefusedBeforeTheRunFolderExists) {
    TempDir dir;
    makeColourDataset(dir, 4);
    const auto refused = [&](const std::function<void(TrainConfig&)>& spoil, const char* name) {
        TrainConfig c = smallConfig(dir, std::string("bad-") + name, 1);
        spoil(c);
        EXPECT_THROW(Trainer(c, nullptr).run(), Error) << name;
        EXPECT_FALSE(std::filesystem::exists(c.runDir)) << name;
    };
    refused([](TrainConfig& c) { c.learningRate = std::nan(""); }, "lr-nan");
    refused([](TrainConfig& c) { c.learningRate = INFINITY; }, "lr-inf");
    refused([](TrainConfig& c) { c.learningRate = -1; }, "lr-negative");
    refused([](TrainConfig& c) { c.validationFraction = std::nan(""); }, "fraction-nan");
    refused([](TrainConfig& c) { c.momentum = 1; }, "momentum");
    refused([](TrainConfig& c) { c.weightDecay = -0.1; }, "decay");
    refused([](TrainConfig& c) { c.epochs = 0; }, "epochs");
    refused([](TrainConfig& c) { c.model.dropout = 1.5; }, "dropout");
    refused([](TrainConfig& c) { c.freezeUpTo = "no_such_layer"; }, "freeze");
    refused([](TrainConfig& c) { c.model.inputSize = 12; }, "size");
}

TEST(Trainer, aRunStoppedBeforeItsFirstCheckpointCanBeStartedAgain) {
    TempDir dir;
    makeColourDataset(dir, 4);
    TrainConfig c = smallConfig(dir, "early", 1);
    {
        Trainer first(c, nullptr);
        first.cancel();  // before the first batch: no checkpoint
        EXPECT_TRUE(first.run().cancelled);
    }
    ASSERT_TRUE(std::filesystem::exists(c.runDir + "/config.json"));
    ASSERT_FALSE(std::filesystem::exists(c.runDir + "/checkpoint.pt"));
    try {
        Trainer(Trainer::resumeConfig(c.runDir), nullptr, true).run();
        ADD_FAILURE() << "resumed a run without a checkpoint";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("start it again"), std::string::npos) << e.what();
    }
    const TrainingResult again = Trainer(c, nullptr).run();
    EXPECT_EQ(again.epochsCompleted, 1);
    EXPECT_TRUE(std::filesystem::exists(c.runDir + "/weights.h5"));
}

TEST(Trainer, temporaryFilesOfKilledWritesAreRemovedOnTheNextRun) {
    TempDir dir;
    makeColourDataset(dir, 4);
    TrainConfig c = smallConfig(dir, "stale", 2);
    {
        Trainer first(c, nullptr);
        EXPECT_EQ(first.run().epochsCompleted, 2);
    }
    namespace fs = std::filesystem;
    // A killed writer's leftover (no such process) and a running writer's file (this one).
    const fs::path dead = fs::path(c.runDir) / ".latest.h5.tmp-999999999";
    const fs::path alive = fs::path(c.runDir) / (".weights.h5.tmp-" + std::to_string(::getpid()));
    for (const auto& p : {dead, alive})
        std::ofstream(p) << std::string(4096, 'x');
    EXPECT_EQ(removeStaleTemporaryFiles(c.runDir), 1);
    EXPECT_FALSE(fs::exists(dead));
    EXPECT_TRUE(fs::exists(alive));
    fs::remove(alive);
    // The trainer does it itself when it opens the folder again.
    std::ofstream(dead) << "half a file";
    const TrainingResult again = Trainer(Trainer::resumeConfig(c.runDir), nullptr, true).run();
    EXPECT_EQ(again.epochsCompleted, 2);
    EXPECT_FALSE(fs::exists(dead));
}

TEST(Trainer, aRunRecordedWithRelativePathsResolvesFromWhereItStarted) {
    // Runs before 0.2 wrote paths relative to the folder training started from.
    TempDir dir;
    namespace fs = std::filesystem;
    TrainConfig old = smallConfig(dir, "runs/first", 1);
    old.runDir = "runs/first";
    old.dataDir = "pictures";
    const fs::path run = fs::path(dir.path()) / "runs" / "first";
    fs::create_directories(run);
    writeTextFileAtomically((run / "config.json").string(), toJson(old));
    const TrainConfig resumed = Trainer::resumeConfig(run.string());
    EXPECT_EQ(resumed.runDir, run.string());
    EXPECT_EQ(resumed.dataDir, (fs::path(dir.path()) / "pictures").string());
    // Moved since: the folder is still the run, the data folder stays as recorded.
    const fs::path moved = fs::path(dir.path()) / "elsewhere";
    fs::rename(run, moved);
    const TrainConfig after = Trainer::resumeConfig(moved.string());
    EXPECT_EQ(after.runDir, moved.string());
    EXPECT_EQ(after.dataDir, "pictures");
}

TEST(Trainer, aCheckpointThatCannotBeWrittenStopsTheRunAndKeepsTheLastGoodOne) {
    // LibTorch's zip writer threw from its destructor on a full disk: the process aborted
    // (134) with a c10 backtrace.
    TempDir dir;
    makeColourDataset(dir, 4);
    const TrainConfig c = smallConfig(dir, "full", 1);
    Trainer(c, nullptr).run();
    const std::string checkpoint = c.runDir + "/checkpoint.pt";
    const auto good = readBytes(checkpoint);
    TrainConfig more = Trainer::resumeConfig(c.runDir);
    more.epochs = 2;
    {
        const FileSizeLimit full(good.size() / 2);
        try {
            Trainer(more, nullptr, true).run();
            FAIL() << "the run went on without its checkpoint";
        } catch (const Error& e) {
            EXPECT_EQ(e.subject(), checkpoint);
            EXPECT_EQ(e.reason(), "cannot write (File too large)");
        }
    }
    EXPECT_EQ(readBytes(checkpoint), good);
    for (const std::string& name : listFolder(c.runDir))
        EXPECT_EQ(name.find(".tmp-"), std::string::npos) << name;
    // With room again, the run resumes from the last good checkpoint.
    EXPECT_EQ(Trainer(more, nullptr, true).run().epochsCompleted, 2);
}
