#include "inspect/inspector.h"

#include "data/imagedecoder.h"
#include "error.h"
#include "inspect/colormap.h"
#include "inspect/imagegrid.h"
#include "models/classifier.h"
#include "testimages.h"
#include "train/trainer.h"

#include <gtest/gtest.h>
#include <opencv2/imgproc.hpp>
#include <torch/torch.h>

#include <random>

using namespace convscope;
using namespace convscope::test;

namespace {

const char* kColours[] = {"red", "green", "blue"};

struct Scene {
    cv::Mat bgr;
    cv::Rect box;  ///< the object's bounding box
};

/// An object of class `cls` (its colour: red, green or blue, each with some spread; its
/// shape a random disc, square or triangle) at a random place on a textured background of
/// grey noise and thin lines of any colour, so the class is only found inside the box.
Scene shapeScene(std::mt19937& rng, int cls, int size) {
    std::uniform_int_distribution<int> colour(0, 255);
    cv::Mat img(size, size, CV_8UC3);
    cv::randu(img, cv::Scalar(60, 60, 60), cv::Scalar(140, 140, 140));
    std::uniform_int_distribution<int> pos(0, size - 1);
    for (int i = 0; i < 6; ++i)
        cv::line(img, {pos(rng), pos(rng)}, {pos(rng), pos(rng)},
                 cv::Scalar(colour(rng), colour(rng), colour(rng)), 1);
    cv::GaussianBlur(img, img, {3, 3}, 0);
    const int side = std::uniform_int_distribution<int>(size / 4, size / 3)(rng);
    const int x = std::uniform_int_distribution<int>(0, size - side - 1)(rng);
    const int y = std::uniform_int_distribution<int>(0, size - side - 1)(rng);
    std::uniform_int_distribution<int> strong(170, 255), weak(0, 90);
    cv::Scalar ink(weak(rng), weak(rng), weak(rng));  // BGR
    ink[2 - cls] = strong(rng);
    const int shape = std::uniform_int_distribution<int>(0, 2)(rng);
    if (shape == 0) {
        cv::circle(img, {x + side / 2, y + side / 2}, side / 2, ink, cv::FILLED);
    } else if (shape == 1) {
        cv::rectangle(img, cv::Rect(x, y, side, side), ink, cv::FILLED);
    } else {
        const std::vector<cv::Point> tri{
            {x + side / 2, y}, {x, y + side - 1}, {x + side - 1, y + side - 1}};
        cv::fillConvexPoly(img, tri, ink);
    }
    return {img, cv::Rect(x, y, side, side)};
}

RgbImage toRgb(const cv::Mat& bgr) {
    cv::Mat rgb;
    cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
    return toRgbImage(rgb);
}

/// Random-weight models for the exact identities.
Inspector randomInspector(Architecture arch, Head head, int size, WeightsMetadata* meta = nullptr,
                          Classifier* model = nullptr) {
    ModelConfig c;
    c.architecture = arch;
    c.head = head;
    c.inputSize = size;
    c.classCount = 3;
    torch::manual_seed(3);
    Classifier m = makeClassifier(c);
    m->eval();
    WeightsMetadata metadata{c, {"a", "b", "c"}, {}};
    if (meta)
        *meta = metadata;
    if (model)
        *model = m;
    return Inspector(m, metadata);
}

RgbImage someImage(int size, unsigned seed = 5) {
    std::mt19937 rng(seed);
    return toRgb(shapeScene(rng, 0, size).bgr);
}

/// The feature maps of `layer` and the last dense weights, by hand.
torch::Tensor directCam(const Classifier& model, const RgbImage& image, int size,
                        const std::string& layer, const std::string& denseWeight, int cls) {
    torch::Tensor x = torch::from_blob(const_cast<std::uint8_t*>(image.pixels.data()),
                                       {size, size, 3}, torch::kUInt8)
                          .to(torch::kFloat32)
                          .permute({2, 0, 1})
                          .unsqueeze(0) /
                      255.0f;
    torch::Tensor features;
    const LayerTap tap = [&](const std::string& name, const torch::Tensor& t) {
        if (name == layer)
            features = t;
    };
    torch::NoGradGuard noGrad;
    model->forward(x, &tap);
    const torch::Tensor w = model->named_parameters()[denseWeight][cls];
    return torch::einsum("k,khw->hw", {w, features[0]});
}

}  // namespace

TEST(Inspector, CamEqualsDenseWeightsAppliedToFeatureMaps) {
    struct Case {
        Architecture arch;
        int size;
        std::string layer, dense;
    };
    for (const Case& k : {Case{Architecture::SmallConvNet, 64, "max_pooling2d_2", "dense.weight"},
                          Case{Architecture::ResNet18, 64, "layer4", "fc.weight"}}) {
        Classifier model;
        Inspector inspector =
            randomInspector(k.arch, Head::GlobalAveragePool, k.size, nullptr, &model);
        const RgbImage image = someImage(k.size);
        for (int cls = 0; cls < 3; ++cls) {
            const ClassActivation cam = inspector.classActivation(image, cls, CamMethod::Cam);
            EXPECT_EQ(cam.featureLayer, k.layer);
            const torch::Tensor expected = directCam(model, image, k.size, k.layer, k.dense, cls);
            ASSERT_EQ(cam.mapHeight, expected.size(0));
            ASSERT_EQ(cam.mapWidth, expected.size(1));
            const torch::Tensor got = torch::from_blob(const_cast<float*>(cam.map.data()),
                                                       expected.sizes(), torch::kFloat32);
            EXPECT_LT((got - expected).abs().max().item<float>(),
                      1e-5f * std::max(1.0f, expected.abs().max().item<float>()));
        }
    }
}

TEST(Inspector, GradCamIsCamTimesPositiveConstantForGapHead) {
    // score_c = sum_k w_ck mean(A_k) + b, so dscore/dA_k = w_ck / (h w) everywhere and
    // Grad-CAM = ReLU(sum_k w_ck A_k) / (h w) = ReLU(CAM) / (h w).
    Inspector inspector = randomInspector(Architecture::SmallConvNet, Head::GlobalAveragePool, 64);
    const RgbImage image = someImage(64);
    for (int cls = 0; cls < 3; ++cls) {
        const ClassActivation cam = inspector.classActivation(image, cls, CamMethod::Cam);
        const ClassActivation grad = inspector.classActivation(image, cls, CamMethod::GradCam);
        ASSERT_EQ(cam.map.size(), grad.map.size());
        const float hw = float(cam.mapWidth * cam.mapHeight);
        float largest = 0;
        for (float v : cam.map)
            largest = std::max(largest, std::abs(v));
        for (std::size_t i = 0; i < cam.map.size(); ++i)
            EXPECT_NEAR(grad.map[i], std::max(0.0f, cam.map[i]) / hw, 1e-5f * largest / hw) << i;
        EXPECT_EQ(grad.classIndex, cls);
    }
}

TEST(Inspector, CamNeedsGapHeadButGradCamWorksForFlattenHead) {
    Inspector inspector = randomInspector(Architecture::SmallConvNet, Head::Flatten, 64);
    const RgbImage image = someImage(64);
    EXPECT_THROW(inspector.classActivation(image, -1, CamMethod::Cam), Error);
    const ClassActivation grad = inspector.classActivation(image, -1, CamMethod::GradCam);
    EXPECT_EQ(grad.featureLayer, "max_pooling2d_2");
    EXPECT_EQ(int(grad.heat.size()), 64 * 64);
    EXPECT_THROW(inspector.classActivation(image, 7, CamMethod::GradCam), Error);
}

TEST(Inspector, HeatPeakAndBoxAreInImagePixels) {
    Inspector inspector = randomInspector(Architecture::SmallConvNet, Head::GlobalAveragePool, 64);
    // A non-square image: the map is upsampled to its own size, not the model's.
    std::mt19937 rng(9);
    cv::Mat wide;
    cv::resize(shapeScene(rng, 1, 64).bgr, wide, cv::Size(160, 90));
    const ClassActivation cam = inspector.classActivation(toRgb(wide), -1, CamMethod::Cam);
    EXPECT_EQ(cam.imageWidth, 160);
    EXPECT_EQ(cam.imageHeight, 90);
    ASSERT_EQ(cam.heat.size(), 160u * 90u);
    const auto peak = std::max_element(cam.heat.begin(), cam.heat.end()) - cam.heat.begin();
    EXPECT_EQ(cam.peakX, int(peak % 160));
    EXPECT_EQ(cam.peakY, int(peak / 160));
    EXPECT_FLOAT_EQ(cam.heat[std::size_t(peak)], 1.0f);
    EXPECT_LE(0, cam.boxX0);
    EXPECT_LE(cam.boxX0, cam.boxX1);
    EXPECT_LT(cam.boxX1, 160);
    EXPECT_LE(cam.boxY0, cam.boxY1);
    EXPECT_LT(cam.boxY1, 90);
}

TEST(Inspector, FilterWeightsAsTiles) {
    WeightsMetadata meta;
    Classifier model;
    Inspector inspector =
        randomInspector(Architecture::SmallConvNet, Head::Flatten, 64, &meta, &model);
    const FilterImages first = inspector.filterWeights("conv2d");
    EXPECT_EQ(first.filters, 32);
    EXPECT_EQ(first.inputChannels, 3);
    ASSERT_EQ(first.tiles.size(), 32u);
    EXPECT_EQ(first.tiles[0].width, 3);
    // Per-filter normalisation stretches every tile to the full range...
    for (const RgbImage& t : first.tiles) {
        EXPECT_EQ(*std::min_element(t.pixels.begin(), t.pixels.end()), 0);
        EXPECT_EQ(*std::max_element(t.pixels.begin(), t.pixels.end()), 255);
    }
    // ... and RGB tiles show the kernel's channels: the brightest byte is the largest weight.
    const torch::Tensor w = model->named_parameters()["conv2d.weight"][0];  // 3,3,3
    const auto& p = first.tiles[0].pixels;
    const std::int64_t brightest = std::max_element(p.begin(), p.end()) - p.begin();
    const std::int64_t largest = w.permute({1, 2, 0}).flatten().argmax().item<std::int64_t>();
    EXPECT_EQ(brightest, largest);

    const FilterImages perInput = inspector.filterWeights("conv2d_1", FilterChannels::PerInput,
                                                          FilterNormalisation::PerLayer);
    EXPECT_EQ(perInput.tiles.size(), 32u * 32u);
    EXPECT_EQ(perInput.columns, 32);
    EXPECT_EQ(inspector.filterWeights("conv2d_1").tiles.size(), 32u);  // averaged
    EXPECT_THROW(inspector.filterWeights("conv2d_1", FilterChannels::Rgb), Error);
    EXPECT_THROW(inspector.filterWeights("dense"), Error);
    EXPECT_THROW(inspector.filterWeights("no_such_layer"), Error);
}

TEST(Inspector, FeatureMapsAreTheLayerOutput) {
    Classifier model;
    Inspector inspector =
        randomInspector(Architecture::SmallConvNet, Head::Flatten, 64, nullptr, &model);
    const RgbImage image = someImage(64);
    const FeatureMaps maps = inspector.featureMaps(image, "conv2d_1");
    EXPECT_EQ(maps.channels, 32);
    EXPECT_EQ(maps.height, 29);
    EXPECT_EQ(maps.width, 29);
    // conv2d_1 of the blog net is ReLU'd: never negative.
    EXPECT_GE(maps.minValue, 0.0f);
    EXPECT_GT(maps.maxValue, maps.minValue);
    EXPECT_EQ(*std::max_element(maps.values.begin(), maps.values.end()), maps.maxValue);
    EXPECT_THROW(inspector.featureMaps(image, "dense"), Error);

    bool sawLayer = false;
    for (const auto& l : inspector.layers())
        if (l.name == "conv2d_1")
            sawLayer = l.spatial && l.hasKernels;
    EXPECT_TRUE(sawLayer);
}

TEST(Rendering, ColormapsGridsAndOverlays) {
    EXPECT_EQ(colormapColor(Colormap::Jet, 0.0f), (std::array<std::uint8_t, 3>{0, 0, 128}));
    EXPECT_EQ(colormapColor(Colormap::Jet, 1.0f), (std::array<std::uint8_t, 3>{128, 0, 0}));
    EXPECT_EQ(colormapColor(Colormap::Viridis, 0.0f), (std::array<std::uint8_t, 3>{68, 1, 84}));
    EXPECT_EQ(colormapColor(Colormap::Grey, 0.5f), (std::array<std::uint8_t, 3>{128, 128, 128}));
    EXPECT_THROW(parseColormap("rainbow"), Error);

    RgbImage tile{3, 3, std::vector<std::uint8_t>(27, 200)};
    const RgbImage grid = tileGrid({tile, tile, tile, tile, tile}, 2, 12, 2);
    EXPECT_EQ(grid.width, 2 * 12 + 3 * 2);
    EXPECT_EQ(grid.height, 3 * 12 + 4 * 2);
    EXPECT_EQ(grid.pixels[(std::size_t(2) * std::size_t(grid.width) + 2) * 3], 200);  // a tile
    EXPECT_EQ(grid.pixels[0], 32);                                                    // the gap

    RgbImage image{2, 1, {10, 20, 30, 40, 50, 60}};
    const std::vector<float> heat{0.0f, 1.0f};
    EXPECT_EQ(overlayHeat(image, heat, 0.0f).pixels, image.pixels);
    const RgbImage full = overlayHeat(image, heat, 1.0f, Colormap::Jet);
    EXPECT_EQ(full.pixels, (std::vector<std::uint8_t>{0, 0, 128, 128, 0, 0}));
    EXPECT_THROW(overlayHeat(image, {0.5f}, 0.5f), Error);
}

/// A GAP-head blog net trained on objects placed at random on textured backgrounds.
class TrainedShapes : public ::testing::Test {
protected:
    static constexpr int kSize = 96;
    static inline TempDir* dir = nullptr;
    static inline std::string weights;

    static void SetUpTestSuite() {
        dir = new TempDir;
        std::mt19937 rng(11);
        for (int i = 0; i < 150; ++i)
            for (int cls = 0; cls < 3; ++cls)
                writeImage(dir->file(std::string("data/") + kColours[cls] + "/" +
                                     std::to_string(i) + ".png"),
                           shapeScene(rng, cls, kSize).bgr);
        TrainConfig c;
        c.dataDir = dir->path() + "/data";
        c.runDir = dir->path() + "/run";
        c.model.architecture = Architecture::SmallConvNet;
        c.model.head = Head::GlobalAveragePool;
        c.model.inputSize = kSize;
        c.epochs = 8;
        c.batchSize = 32;
        c.learningRate = 2e-3;
        c.augment = false;
        c.seed = 5;
        Trainer trainer(c, nullptr);
        const TrainingResult result = trainer.run();
        std::printf("objects net: validation accuracy %.3f\n", result.finalValidationAccuracy);
        weights = c.runDir + "/weights.h5";
    }
    static void TearDownTestSuite() {
        delete dir;
        dir = nullptr;
    }
};

TEST_F(TrainedShapes, CamPointsInsideTheObjectOnHeldOutImages) {
    Inspector inspector(weights);
    std::mt19937 rng(12345);  // not the training seed: new scenes
    int hits = 0, correct = 0;
    const int n = 90;
    const auto& names = inspector.metadata().classNames;  // sorted: blue, green, red
    for (int i = 0; i < n; ++i) {
        const Scene s = shapeScene(rng, i % 3, kSize);
        const int cls = int(std::find(names.begin(), names.end(), kColours[i % 3]) - names.begin());
        ASSERT_LT(cls, 3);
        const ClassActivation cam = inspector.classActivation(toRgb(s.bgr), cls, CamMethod::Cam);
        hits += s.box.contains({cam.peakX, cam.peakY}) ? 1 : 0;
        correct += std::max_element(cam.probabilities.begin(), cam.probabilities.end()) -
                               cam.probabilities.begin() ==
                           cls
                       ? 1
                       : 0;
    }
    std::printf("pointing game: %d/%d peaks inside the object's box; %d/%d classified right\n",
                hits, n, correct, n);
    EXPECT_GE(hits, n * 9 / 10);
}

TEST_F(TrainedShapes, ActivationMaximizationRaisesMostFilters10x) {
    Inspector inspector(weights);
    MaximizeOptions options;  // the blog's: 20 steps of 1.0 from grey plus noise
    for (const char* layer : {"conv2d_1", "conv2d_2"}) {
        const auto pictures = inspector.maximizeLayer(layer, options);
        ASSERT_EQ(int(pictures.size()), inspector.filterCount(layer));
        int raised = 0;
        for (const auto& p : pictures) {
            raised += p.finalActivation > 0 && p.finalActivation >= 10 * p.startActivation;
            EXPECT_EQ(p.image.width, kSize);
        }
        std::printf("%s: %d of %zu filters raised at least 10x\n", layer, raised, pictures.size());
        EXPECT_GE(raised * 4, int(pictures.size()) * 3) << layer;  // most: 3 in 4 or more
        for (std::size_t i = 1; i < pictures.size(); ++i)
            EXPECT_GE(pictures[i - 1].finalActivation, pictures[i].finalActivation);
    }
}

TEST_F(TrainedShapes, OneFilterAloneEqualsItsPlaceInTheLayerBatch) {
    Inspector inspector(weights);
    MaximizeOptions options;
    options.steps = 5;
    options.jitter = 2;
    options.blurEvery = 2;
    options.octaves = 2;
    const auto all = inspector.maximizeLayer("conv2d_2", options, 16);
    ASSERT_EQ(all.size(), 16u);
    const auto one = inspector.maximizeFilter("conv2d_2", all[3].filter, options);
    ASSERT_TRUE(one);
    EXPECT_NEAR(one->finalActivation, all[3].finalActivation,
                1e-3f * std::max(1.0f, std::abs(all[3].finalActivation)));
}

TEST_F(TrainedShapes, MaximizationCancelsAndReportsProgress) {
    Inspector inspector(weights);
    std::atomic<bool> cancel{false};
    int lastDone = 0, lastTotal = 0;
    const auto some = inspector.maximizeLayer("conv2d_2", MaximizeOptions{}, 0, &cancel,
                                              [&](int done, int total) {
                                                  lastDone = done;
                                                  lastTotal = total;
                                                  if (done >= 25)
                                                      cancel = true;
                                              });
    EXPECT_EQ(lastDone, 25);
    EXPECT_EQ(lastTotal, 4 * 20);  // 64 filters in batches of 16, 20 steps each
    EXPECT_EQ(some.size(), 16u);   // the first batch finished before the cancel
    cancel = true;
    EXPECT_FALSE(inspector.maximizeFilter("conv2d_2", 0, MaximizeOptions{}, &cancel));
}
