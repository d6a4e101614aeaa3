// Transfer learning: the backbone/head split, bottleneck features and the two-phase recipe.
#include "train/bottleneck.h"
#include "train/finetuner.h"
#include "train/evaluator.h"
#include "train/trainer.h"

#include "data/imagecache.h"
#include "error.h"
#include "inspect/predictor.h"
#include "io/kerasweights.h"
#include "io/modelweights.h"
#include "models/finetuning.h"
#include "runtime.h"
#include "testimages.h"
#include "util/atomicfile.h"

#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>
#include <torch/torch.h>

#include <atomic>
#include <filesystem>
#include <sstream>
#include <thread>

using namespace convscope;
using namespace convscope::test;
namespace fs = std::filesystem;

namespace {

const std::vector<std::pair<std::string, cv::Scalar>> kColours{{"red", {200, 30, 30}},
                                                               {"green", {30, 190, 40}},
                                                               {"blue", {30, 40, 200}},
                                                               {"yellow", {210, 200, 30}}};

/// `classes` colour classes, a little variation each, and a white square for structure.
void makeColourDataset(const TempDir& dir, int perClass, int classes = 2,
                       const std::string& folder = "data") {
    for (int c = 0; c < classes; ++c) {
        const auto& [name, rgb] = kColours[std::size_t(c)];
        for (int i = 0; i < perClass; ++i) {
            cv::Mat img = solidBgr(20, 20, rgb + cv::Scalar(i % 40, i % 25, i % 30));
            cv::rectangle(img, {2 + i % 8, 3, 5, 5}, cv::Scalar(255, 255, 255), cv::FILLED);
            writeImage(dir.file(folder + "/" + name + "/" + std::to_string(i) + ".png"), img);
        }
    }
}

TrainConfig baseConfig(const TempDir& dir, const std::string& run, int epochs) {
    TrainConfig c;
    c.dataDir = dir.path() + "/data";
    c.runDir = dir.path() + "/" + run;
    c.model.architecture = Architecture::SmallConvNet;
    c.model.inputSize = 32;
    c.epochs = epochs;
    c.batchSize = 8;
    c.learningRate = 3e-3;
    c.seed = 7;
    c.threads = 1;
    c.channelsLast = false;
    return c;
}

/// A starting-weights file: a freshly initialised model of the configuration, seeded.
std::string makeWeights(const TempDir& dir, const std::string& name, ModelConfig model,
                        std::uint64_t seed) {
    torch::manual_seed(seed);
    const Classifier m = makeClassifier(model);
    const std::string path = dir.file(name);
    saveModelWeights(path, *m, WeightsMetadata{model, {}, Preprocessing{}});
    return path;
}

struct Recorder : TrainingObserver {
    std::vector<std::string> messages;
    std::vector<EpochEnd> epochs;
    std::vector<BatchEnd> batches;
    std::size_t featureProgress = 0;
    std::function<void(const BatchEnd&)> afterBatch;
    void onMessage(const std::string& t) override { messages.push_back(t); }
    void onProgress(Phase p, std::size_t, std::size_t) override {
        if (p == Phase::Features)
            ++featureProgress;
    }
    void onEpochEnd(const EpochEnd& e) override { epochs.push_back(e); }
    void onBatchEnd(const BatchEnd& b) override {
        batches.push_back(b);
        if (afterBatch)
            afterBatch(b);
    }
    bool said(const std::string& part) const {
        for (const auto& m : messages)
            if (m.find(part) != std::string::npos)
                return true;
        return false;
    }
};

const WeightArray& weightOf(const KerasWeightsFile& file, const std::string& layer,
                            std::size_t i = 0) {
    for (const auto& l : file.layers)
        if (l.name == layer)
            return l.weights.at(i);
    throw Error(layer, "not in file");
}

ModelConfig modelConfig(Architecture a, Head h, int size, int classes) {
    ModelConfig c;
    c.architecture = a;
    c.head = h;
    c.inputSize = size;
    c.classCount = classes;
    return c;
}

std::vector<std::string> csvRows(const std::string& path) {
    std::istringstream in(readTextFile(path));
    std::vector<std::string> rows;
    for (std::string line; std::getline(in, line);)
        rows.push_back(line);
    return rows;
}

}  // namespace

class EveryArchitecture : public ::testing::TestWithParam<std::tuple<Architecture, Head>> {};

TEST_P(EveryArchitecture, headOfTheBackboneFeaturesIsTheWholeForward) {
    const auto [arch, head] = GetParam();
    torch::manual_seed(3);
    const Classifier model = makeClassifier(modelConfig(arch, head, 64, 3));
    model->eval();
    torch::NoGradGuard noGrad;
    const torch::Tensor x = torch::rand({2, 3, 64, 64});
    std::string lastBackboneTap;
    bool inHead = false;
    const LayerTap tap = [&](const std::string& name, const torch::Tensor&) {
        if (!inHead)
            lastBackboneTap = name;
    };
    const torch::Tensor features = model->forwardFeatures(x, &tap);
    inHead = true;
    EXPECT_EQ(lastBackboneTap, backboneOutputLayer(model->config()));
    EXPECT_EQ(features.dim(), 2);
    EXPECT_TRUE(torch::equal(model->forwardHead(features), model->forward(x)));
}

TEST_P(EveryArchitecture, theLastBlockAndTheHeadAreAllThatPhaseTwoTrains) {
    const auto [arch, head] = GetParam();
    const Classifier model = makeClassifier(modelConfig(arch, head, 64, 3));
    model->freezeUpTo(lastBlockFreezePoint(model->config()));
    const std::map<Architecture, std::vector<std::string>> trained{
        {Architecture::SmallConvNet, {"conv2d_2.", "dense"}},
        {Architecture::Vgg16, {"block5_", "fc1.", "predictions."}},
        {Architecture::ResNet18, {"layer4.", "fc."}},
        {Architecture::MobileNetV2,
         {"features.14.", "features.15.", "features.16.", "features.17.", "features.18.",
          "classifier."}}};
    for (const auto& p : model->named_parameters()) {
        bool expected = false;
        for (const auto& prefix : trained.at(arch))
            expected = expected || p.key().rfind(prefix, 0) == 0;
        EXPECT_EQ(p.value().requires_grad(), expected) << p.key();
    }
}

INSTANTIATE_TEST_SUITE_P(
    All, EveryArchitecture,
    ::testing::Combine(::testing::Values(Architecture::SmallConvNet, Architecture::Vgg16,
                                         Architecture::ResNet18, Architecture::MobileNetV2),
                       ::testing::Values(Head::Flatten, Head::GlobalAveragePool)));

TEST(Bottleneck, cachedFeaturesEqualTheBackboneOutputExactly) {
    TempDir dir;
    makeColourDataset(dir, 12, 3);
    TrainConfig c = baseConfig(dir, "run", 1);
    c.bottleneck = true;
    c.initialWeights =
        makeWeights(dir, "start.h5", modelConfig(c.model.architecture, c.model.head, 32, 3), 5);
    Trainer(c, nullptr).run();

    // The same backbone and images, computed here without the trainer.
    configureThreads(1);
    c.model.classCount = 3;
    const Classifier model = makeClassifier(c.model);
    loadModelWeights(c.initialWeights, *model, true);
    ScanOptions scan;
    scan.seed = c.seed;
    DatasetIndex index = DatasetIndex::scan(c.dataDir, scan);
    CacheOptions co;
    co.width = co.height = 32;
    ImageCache cache(index, co);
    cache.decodeAll();
    const auto cached = loadBottleneckFeatures(c.runDir + "/bottleneck-features.h5",
                                               bottleneckKey(*model, index, c.preprocessing));
    ASSERT_TRUE(cached.has_value()) << "the key must not depend on anything but weights and data";
    LoaderOptions lo;
    lo.batchSize = c.batchSize;
    lo.augment = false;
    lo.shuffle = false;
    lo.preprocessing = c.preprocessing;
    for (auto [split, set] : {std::pair{Split::Train, &cached->train},
                              std::pair{Split::Validation, &cached->validation}}) {
        BatchLoader loader(cache, index.indices(split), AugmentParams{}, lo);
        const auto expected = computeFeatures(*model, loader, torch::kCPU);
        ASSERT_TRUE(expected.has_value());
        ASSERT_EQ(set->features.sizes(), expected->features.sizes());
        EXPECT_TRUE(torch::equal(set->features, expected->features));
        EXPECT_TRUE(torch::equal(set->labels, expected->labels));
        // And row by row what the whole model's backbone gives for that one image.
        model->eval();
        torch::NoGradGuard noGrad;
        loader.startEpoch(0);
        const auto batch = loader.next();
        const torch::Tensor one = model->forwardFeatures(batch->images.narrow(0, 0, 1));
        EXPECT_TRUE(torch::allclose(one[0], set->features[0], 1e-5, 1e-6));
    }
    EXPECT_EQ(cached->train.features.size(1), 2 * 2 * 64);  // flatten of the 2x2x64 maps
}

TEST(Bottleneck, aSecondRunReusesTheCacheAndChangedDataOrWeightsDoNot) {
    TempDir dir;
    makeColourDataset(dir, 10, 2);
    const std::string cacheFile = dir.path() + "/features.h5";
    const std::string start = makeWeights(
        dir, "start.h5", modelConfig(Architecture::SmallConvNet, Head::Flatten, 32, 2), 1);
    auto run = [&](const std::string& name, const std::string& weights) {
        TrainConfig c = baseConfig(dir, name, 2);
        c.bottleneck = true;
        c.featuresCache = cacheFile;
        c.initialWeights = weights;
        auto recorder = std::make_unique<Recorder>();
        const TrainingResult r = Trainer(c, recorder.get()).run();
        EXPECT_EQ(r.epochsCompleted, 2);
        return recorder;
    };
    const auto first = run("first", start);
    EXPECT_GT(first->featureProgress, 0u);
    EXPECT_TRUE(first->said("Computing bottleneck features (no cached features yet)"));
    EXPECT_TRUE(first->said("Augmentation is off"));
    ASSERT_TRUE(fs::exists(cacheFile));

    const auto second = run("second", start);
    EXPECT_EQ(second->featureProgress, 0u);
    EXPECT_TRUE(second->said("Reusing the bottleneck features"));
    // Same features, same seed: the same head training.
    EXPECT_DOUBLE_EQ(first->epochs.back().trainLoss, second->epochs.back().trainLoss);

    writeImage(dir.file("data/red/extra.png"), solidBgr(20, 20, {180, 10, 10}));
    const auto third = run("third", start);
    EXPECT_GT(third->featureProgress, 0u);
    EXPECT_TRUE(third->said("the data set changed"));

    const std::string other = makeWeights(
        dir, "other.h5", modelConfig(Architecture::SmallConvNet, Head::Flatten, 32, 2), 2);
    const auto fourth = run("fourth", other);
    EXPECT_GT(fourth->featureProgress, 0u);
    EXPECT_TRUE(fourth->said("the backbone"));
}

TEST(Bottleneck, headTrainingFromTheCacheLearnsAndWritesTheWholeModel) {
    TempDir dir;
    makeColourDataset(dir, 15, 4);
    TrainConfig c = baseConfig(dir, "run", 25);
    c.bottleneck = true;  // random backbone: the features still separate colours
    Recorder recorder;
    const TrainingResult r = Trainer(c, &recorder).run();
    ASSERT_EQ(r.history.size(), 25u);
    EXPECT_GE(r.finalValidationAccuracy, 0.9);  // chance is 0.25
    EXPECT_LT(r.history.back().trainLoss, r.history.front().trainLoss);
    ASSERT_FALSE(recorder.batches.empty());
    EXPECT_EQ(recorder.batches.front().batchesPerEpoch, 6);  // 48 training rows, batches of 8
    // weights.h5 is the whole model (backbone + trained head): classifying the images from
    // pixels gives the accuracy the head reached on the cached features.
    Predictor predictor(r.weightsPath);
    const Evaluation e = predictor.evaluate(c.dataDir, Split::Validation, 0.2, c.seed);
    EXPECT_EQ(e.samples, 12);
    EXPECT_NEAR(e.accuracy(), r.finalValidationAccuracy, 1.0 / 12 + 1e-9);
    EXPECT_TRUE(fs::exists(c.runDir + "/history.csv"));
    EXPECT_TRUE(fs::exists(c.runDir + "/checkpoint.pt"));
}

TEST(FineTuner, runsBothPhasesAndPhaseTwoChangesOnlyTheLastBlockAndHead) {
    TempDir dir;
    makeColourDataset(dir, 12, 2);
    FineTuneConfig f;
    f.base = baseConfig(dir, "recipe", 0);
    f.base.bottleneck = true;
    f.base.optimizer = OptimizerKind::RmsProp;
    f.base.initialWeights = makeWeights(
        dir, "start.h5", modelConfig(Architecture::SmallConvNet, Head::Flatten, 32, 2), 9);
    f.headEpochs = 3;
    f.fineTuneEpochs = 2;
    Recorder recorder;
    const auto started = std::chrono::steady_clock::now();
    const TrainingResult r = FineTuner(f, &recorder).run();
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    ASSERT_FALSE(r.cancelled);
    // The recipe's time is both phases' (phase 1 decodes and runs the backbone once).
    EXPECT_GE(r.seconds.total, 0.5 * wall) << "of " << wall << " s";
    EXPECT_LE(r.seconds.total, wall);
    EXPECT_GT(r.seconds.decode, 0);
    ASSERT_EQ(recorder.epochs.size(), 5u);
    for (std::size_t i = 0; i < 5; ++i) {
        EXPECT_EQ(recorder.epochs[i].epoch, int(i) + 1);
        EXPECT_EQ(recorder.epochs[i].phase, i < 3 ? 1 : 2);
    }
    EXPECT_DOUBLE_EQ(recorder.epochs[4].learningRate, 1e-4);
    EXPECT_DOUBLE_EQ(recorder.epochs[0].learningRate, 3e-3);

    const auto rows = csvRows(f.base.runDir + "/history.csv");
    ASSERT_EQ(rows.size(), 6u);
    EXPECT_EQ(rows[0].substr(rows[0].rfind(',') + 1), "phase");
    EXPECT_EQ(rows[3].substr(rows[3].rfind(',') + 1), "1");
    EXPECT_EQ(rows[4].substr(0, 2), "4,");
    EXPECT_EQ(rows[4].substr(rows[4].rfind(',') + 1), "2");

    const auto phase2 =
        nlohmann::json::parse(readTextFile(f.base.runDir + "/finetune/config.json"));
    EXPECT_EQ(phase2.at("optimizer"), "sgd");
    EXPECT_DOUBLE_EQ(phase2.at("learning_rate").get<double>(), 1e-4);
    EXPECT_DOUBLE_EQ(phase2.at("momentum").get<double>(), 0.9);
    EXPECT_EQ(phase2.at("freeze_up_to"), "max_pooling2d_1");
    EXPECT_FALSE(phase2.at("bottleneck").get<bool>());

    const KerasWeightsFile start = readKerasWeights(f.base.initialWeights);
    const KerasWeightsFile afterHead = readKerasWeights(f.base.runDir + "/head/weights.h5");
    const KerasWeightsFile final = readKerasWeights(r.weightsPath);
    for (const char* frozen : {"conv2d", "conv2d_1"}) {
        for (std::size_t i = 0; i < 2; ++i) {  // kernel and bias, bit for bit
            EXPECT_EQ(weightOf(final, frozen, i).values, weightOf(start, frozen, i).values)
                << frozen;
            EXPECT_EQ(weightOf(afterHead, frozen, i).values, weightOf(start, frozen, i).values);
        }
    }
    // Phase 1 leaves the whole backbone alone; phase 2 trains the last conv and the head.
    EXPECT_EQ(weightOf(afterHead, "conv2d_2").values, weightOf(start, "conv2d_2").values);
    EXPECT_NE(weightOf(final, "conv2d_2").values, weightOf(afterHead, "conv2d_2").values);
    EXPECT_NE(weightOf(final, "dense").values, weightOf(afterHead, "dense").values);
    EXPECT_NE(weightOf(final, "dense_1").values, weightOf(afterHead, "dense_1").values);
    EXPECT_TRUE(fs::exists(f.base.runDir + "/latest.h5"));
    EXPECT_TRUE(fs::exists(f.base.runDir + "/recipe.json"));
}

TEST(FineTuner, cancelledInPhaseTwoResumesToTheEnd) {
    TempDir dir;
    makeColourDataset(dir, 12, 2);
    FineTuneConfig f;
    f.base = baseConfig(dir, "recipe", 0);
    f.headEpochs = 2;
    f.fineTuneEpochs = 3;
    {
        Recorder recorder;
        FineTuner recipe(f, &recorder);
        recorder.afterBatch = [&](const BatchEnd& b) {
            if (b.epoch == 4 && b.batch == 1)
                recipe.cancel();
        };
        const TrainingResult r = recipe.run();
        EXPECT_TRUE(r.cancelled);
        EXPECT_EQ(r.epochsCompleted, 3);
        EXPECT_FALSE(fs::exists(f.base.runDir + "/weights.h5"));
    }
    EXPECT_THROW(FineTuner(f, nullptr).run(), Error);  // the folder holds a run
    Recorder recorder;
    const TrainingResult r =
        FineTuner(FineTuner::resumeConfig(f.base.runDir), &recorder, true).run();
    EXPECT_FALSE(r.cancelled);
    ASSERT_EQ(recorder.epochs.size(), 5u);  // the finished epochs replayed, then the rest
    EXPECT_EQ(recorder.epochs.back().epoch, 5);
    EXPECT_EQ(recorder.epochs.back().phase, 2);
    EXPECT_TRUE(fs::exists(r.weightsPath));
    EXPECT_EQ(csvRows(f.base.runDir + "/history.csv").size(), 6u);
}

TEST(FineTuner, pauseInPhaseTwoHoldsTrainingUntilResumed) {
    TempDir dir;
    makeColourDataset(dir, 10, 2);
    FineTuneConfig f;
    f.base = baseConfig(dir, "recipe", 0);
    f.headEpochs = 1;
    f.fineTuneEpochs = 1;
    std::atomic<bool> pausedTakesEffect{false};
    struct PauseWatch : Recorder {
        std::atomic<bool>* flag = nullptr;
        void onPaused(bool paused) override {
            if (paused)
                *flag = true;
        }
    };
    PauseWatch watch;
    watch.flag = &pausedTakesEffect;
    FineTuner watched(f, &watch);
    watch.afterBatch = [&](const BatchEnd& b) {
        if (b.epoch == 2 && b.batch == 1)
            watched.pause();
    };
    std::size_t batchesWhenPaused = 0;
    std::thread resumer([&] {
        while (!pausedTakesEffect)
            std::this_thread::yield();
        batchesWhenPaused = watch.batches.size();
        EXPECT_TRUE(watched.isPaused());
        watched.resume();
    });
    const TrainingResult r = watched.run();
    resumer.join();
    EXPECT_FALSE(r.cancelled);
    EXPECT_EQ(r.epochsCompleted, 2);
    // Phase 1 has 2 batches (16 rows of 8); the pause came after phase 2's first batch.
    EXPECT_EQ(batchesWhenPaused, 3u);
    EXPECT_EQ(watch.batches.size(), 4u);
}
