// The rules a run follows over its epochs: learning-rate schedules (with the plateau state
// carried across a resume), early stopping, weight decay and Nesterov momentum; cancel from
// another thread; resuming after the data changed; resume determinism on two threads.
#include "train/trainer.h"

#include "error.h"
#include "io/kerasweights.h"
#include "testimages.h"
#include "train/optimization.h"
#include "trainerfixtures.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <thread>

using namespace convscope;
using namespace convscope::test;
namespace fs = std::filesystem;

namespace {

std::vector<double> learningRates(const TrainingResult& r) {
    std::vector<double> out;
    for (const EpochEnd& e : r.history)
        out.push_back(e.learningRate);
    return out;
}

void expectRates(const std::vector<double>& got, const std::vector<double>& want) {
    ASSERT_EQ(got.size(), want.size());
    for (std::size_t i = 0; i < got.size(); ++i)
        EXPECT_NEAR(got[i], want[i], 1e-12 + 1e-9 * want[i]) << "epoch " << i + 1;
}

/// Settings under which the validation loss cannot change: no augmentation, and a learning
/// rate far below a float32 weight's resolution. Every epoch after the first is "no better".
TrainConfig stalledConfig(const TempDir& dir, const std::string& run, int epochs) {
    TrainConfig c = smallConfig(dir, run, epochs);
    c.augment = false;
    c.optimizer = OptimizerKind::Sgd;
    c.momentum = 0;
    c.learningRate = 1e-20;
    c.precision = Precision::Fp32;
    return c;
}

double sumOfSquares(const std::string& weightsPath) {
    double sum = 0;
    for (const LayerWeights& layer : readKerasWeights(weightsPath).layers)
        for (const WeightArray& w : layer.weights)
            if (w.name.find("kernel") != std::string::npos)
                for (float v : w.values)
                    sum += double(v) * v;
    return sum;
}

}  // namespace

TEST(TrainingRules, stepScheduleMultipliesByGammaEveryStep) {
    TempDir dir;
    makeColourDataset(dir, 4);
    TrainConfig c = smallConfig(dir, "step", 5);
    c.schedule = Schedule::Step;
    c.learningRate = 0.01;
    c.stepEpochs = 2;
    c.stepGamma = 0.5;
    expectRates(learningRates(Trainer(c, nullptr).run()), {0.01, 0.01, 0.005, 0.005, 0.0025});
}

TEST(TrainingRules, cosineScheduleFollowsHalfACosine) {
    TempDir dir;
    makeColourDataset(dir, 4);
    TrainConfig c = smallConfig(dir, "cosine", 4);
    c.schedule = Schedule::Cosine;
    c.learningRate = 0.01;
    const double pi = 3.14159265358979323846;
    std::vector<double> want;
    for (int e = 0; e < 4; ++e)
        want.push_back(0.01 * 0.5 * (1 + std::cos(pi * e / 4)));
    expectRates(learningRates(Trainer(c, nullptr).run()), want);
}

TEST(TrainingRules, plateauScheduleCutsTheRateAndKeepsItsStateAcrossAResume) {
    TempDir dir;
    makeColourDataset(dir, 4);
    TrainConfig c = stalledConfig(dir, "plateau", 5);
    c.schedule = Schedule::Plateau;
    c.plateauPatience = 1;
    c.plateauFactor = 0.5;
    const double l = c.learningRate;
    const std::vector<double> want{l, l, l / 2, l / 4, l / 8};
    expectRates(learningRates(Trainer(c, nullptr).run()), want);

    // Stopped after three epochs and resumed: the cut rate comes back from the checkpoint.
    TrainConfig first = c;
    first.runDir = dir.path() + "/plateau-resumed";
    first.epochs = 3;
    Trainer(first, nullptr).run();
    TrainConfig rest = Trainer::resumeConfig(first.runDir);
    rest.epochs = 5;
    expectRates(learningRates(Trainer(rest, nullptr, true).run()), want);
}

TEST(TrainingRules, earlyStoppingEndsTheRunAfterItsPatience) {
    TempDir dir;
    makeColourDataset(dir, 4);
    TrainConfig c = stalledConfig(dir, "early", 10);
    c.earlyStoppingPatience = 2;
    const TrainingResult r = Trainer(c, nullptr).run();
    EXPECT_TRUE(r.stoppedEarly);
    EXPECT_FALSE(r.cancelled);
    EXPECT_EQ(r.epochsCompleted, 3);  // the best, then two epochs no better
    EXPECT_TRUE(fs::exists(c.runDir + "/weights.h5"));
}

TEST(TrainingRules, weightDecayShrinksTheWeights) {
    TempDir dir;
    makeColourDataset(dir, 8);
    TrainConfig plain = smallConfig(dir, "plain", 2);
    plain.optimizer = OptimizerKind::Sgd;
    plain.learningRate = 0.05;
    plain.precision = Precision::Fp32;
    TrainConfig decayed = plain;
    decayed.runDir = dir.path() + "/decayed";
    decayed.weightDecay = 0.5;
    Trainer(plain, nullptr).run();
    Trainer(decayed, nullptr).run();
    EXPECT_LT(sumOfSquares(decayed.runDir + "/weights.h5"),
              0.9 * sumOfSquares(plain.runDir + "/weights.h5"));
}

TEST(TrainingRules, nesterovChangesTheStepsAndNeedsMomentum) {
    TempDir dir;
    makeColourDataset(dir, 8);
    TrainConfig plain = smallConfig(dir, "momentum", 2);
    plain.optimizer = OptimizerKind::Sgd;
    plain.learningRate = 0.05;
    plain.momentum = 0.9;
    plain.precision = Precision::Fp32;
    plain.threads = 1;
    TrainConfig nesterov = plain;
    nesterov.runDir = dir.path() + "/nesterov";
    nesterov.nesterov = true;
    const TrainingResult a = Trainer(plain, nullptr).run();
    const TrainingResult b = Trainer(nesterov, nullptr).run();
    EXPECT_NE(a.history.back().trainLoss, b.history.back().trainLoss);

    // Refused before the run folder exists, not by LibTorch after config.json is written.
    TrainConfig noMomentum = nesterov;
    noMomentum.runDir = dir.path() + "/no-momentum";
    noMomentum.momentum = 0;
    EXPECT_THROW(Trainer(noMomentum, nullptr).run(), Error);
    EXPECT_FALSE(fs::exists(noMomentum.runDir));
}

TEST(TrainingRules, cancelFromAnotherThreadWhileABatchRunsStopsWithinIt) {
    TempDir dir;
    makeColourDataset(dir, 20);
    TrainConfig c = smallConfig(dir, "cancelled", 50);
    std::atomic<int> batches{0};
    struct Counter : TrainingObserver {
        std::atomic<int>* n;
        void onBatchEnd(const BatchEnd&) override { ++*n; }
    } counter;
    counter.n = &batches;
    Trainer trainer(c, &counter);
    std::atomic<int> atCancel{-1};
    std::thread other([&] {
        while (batches < 6)
            std::this_thread::yield();
        atCancel = batches.load();
        trainer.cancel();  // lands while a later batch (or the epoch's validation) runs
    });
    const auto started = std::chrono::steady_clock::now();
    const TrainingResult r = trainer.run();
    other.join();
    EXPECT_TRUE(r.cancelled);
    EXPECT_LT(r.epochsCompleted, 50);
    EXPECT_LE(batches.load(), atCancel.load() + 1);  // at most the batch that was running
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(60));
    // What it left resumes.
    TrainConfig more = Trainer::resumeConfig(c.runDir);
    more.epochs = r.epochsCompleted + 1;
    if (r.epochsCompleted > 0) {
        EXPECT_EQ(Trainer(more, nullptr, true).run().epochsCompleted, r.epochsCompleted + 1);
    }
}

TEST(TrainingRules, aResumeTrainsOnImagesAddedToItsClasses) {
    TempDir dir;
    makeColourDataset(dir, 10);
    TrainConfig c = smallConfig(dir, "growing", 1);
    c.validationFraction = 0;
    Trainer(c, nullptr).run();
    for (int i = 10; i < 14; ++i)
        writeImage(dir.file("data/red/" + std::to_string(i) + ".png"),
                   solidBgr(20, 20, {210, 25, 30}));
    TrainConfig more = Trainer::resumeConfig(c.runDir);
    more.epochs = 2;
    struct Batches : TrainingObserver {
        std::int64_t perEpoch = 0;
        void onBatchEnd(const BatchEnd& b) override { perEpoch = b.batchesPerEpoch; }
    } batches;
    const TrainingResult r = Trainer(more, &batches, true).run();
    EXPECT_EQ(r.epochsCompleted, 2);
    EXPECT_EQ(batches.perEpoch, 3);  // 24 images in batches of 8, not 20's
}

TEST(TrainingRules, aResumeOnTwoThreadsContinuesTheSameCurve) {
    // Each sample's augmentation is seeded by (seed, epoch, sample) and the loader's order by
    // (seed, epoch); oneDNN's float32 kernels reduce in a fixed order for a fixed thread count.
    TempDir dir;
    makeColourDataset(dir, 12);
    TrainConfig straight = smallConfig(dir, "straight", 3);
    straight.threads = 2;
    straight.loaderWorkers = 2;
    straight.precision = Precision::Fp32;
    const TrainingResult whole = Trainer(straight, nullptr).run();
    TrainConfig first = straight;
    first.runDir = dir.path() + "/split";
    first.epochs = 1;
    Trainer(first, nullptr).run();
    TrainConfig rest = Trainer::resumeConfig(first.runDir);
    rest.epochs = 3;
    const TrainingResult resumed = Trainer(rest, nullptr, true).run();
    ASSERT_EQ(resumed.history.size(), whole.history.size());
    for (std::size_t i = 0; i < whole.history.size(); ++i) {
        EXPECT_DOUBLE_EQ(resumed.history[i].trainLoss, whole.history[i].trainLoss) << i + 1;
        EXPECT_DOUBLE_EQ(resumed.history[i].validationLoss, whole.history[i].validationLoss)
            << i + 1;
    }
}

TEST(TrainingRules, resumeTrainingRunOpensWhateverTheFolderHolds) {
    TempDir dir;
    makeColourDataset(dir, 8);
    TrainConfig c = smallConfig(dir, "plain", 1);
    Trainer(c, nullptr).run();
    const std::unique_ptr<TrainingRun> plain = resumeTrainingRun(c.runDir, nullptr, 4);
    ASSERT_NE(dynamic_cast<Trainer*>(plain.get()), nullptr);
    EXPECT_EQ(static_cast<Trainer*>(plain.get())->config().batchSize, 4);
    EXPECT_EQ(plain->plannedEpochs(), 1);
    EXPECT_EQ(resumeTrainingRun(c.runDir, nullptr)->plannedEpochs(), 1);
    EXPECT_EQ(static_cast<Trainer*>(resumeTrainingRun(c.runDir, nullptr).get())->config().batchSize,
              8);
    // A folder with recipe.json is a fine-tuning recipe, read as one (here a damaged one).
    fs::create_directories(dir.file("recipe"));
    std::ofstream(dir.file("recipe/recipe.json")) << "{";
    try {
        resumeTrainingRun(dir.file("recipe"), nullptr);
        FAIL() << "a damaged recipe was resumed";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("recipe"), std::string::npos) << e.what();
    }
    fs::create_directories(dir.file("nothing"));
    EXPECT_THROW(resumeTrainingRun(dir.file("nothing"), nullptr), Error);
}

TEST(TrainingRules, theScheduleAndItsPlateauStateFollowTheConfiguration) {
    TrainConfig c;
    c.learningRate = 0.1;
    c.schedule = Schedule::Step;
    c.stepEpochs = 2;
    c.stepGamma = 0.5;
    TrainingState state;
    EXPECT_DOUBLE_EQ(scheduledLearningRate(c, 1, state), 0.1);
    EXPECT_DOUBLE_EQ(scheduledLearningRate(c, 4, state), 0.025);
    c.schedule = Schedule::Plateau;
    c.plateauPatience = 2;
    c.plateauFactor = 0.1;
    c.earlyStoppingPatience = 3;
    EXPECT_FALSE(recordValidationLoss(c, 0.1, 1.0, state));  // the best so far
    EXPECT_FALSE(recordValidationLoss(c, 0.1, 1.5, state));
    EXPECT_DOUBLE_EQ(scheduledLearningRate(c, 2, state), 0.1);
    EXPECT_FALSE(recordValidationLoss(c, 0.1, 1.2, state));  // two without improvement: cut
    EXPECT_NEAR(scheduledLearningRate(c, 3, state), 0.01, 1e-12);
    EXPECT_TRUE(recordValidationLoss(c, 0.01, 1.1, state));  // three: early stopping
    EXPECT_EQ(state.epochsSinceBest, 3);
    EXPECT_DOUBLE_EQ(state.bestValidationLoss, 1.0);
}
