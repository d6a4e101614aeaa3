// One training epoch of the Keras blog net at 150x150 on a folder, end to end (scan, decode,
// augment, batch, train, validate), and the achieved GFLOP/s against this machine's measured
// matrix-multiply peak. Prints one JSON object; run_training_bench.sh sets it beside Python.
#include "models/classifier.h"
#include "runtime.h"
#include "train/trainer.h"

#include <torch/torch.h>

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <string>

using namespace convscope;
using Clock = std::chrono::steady_clock;

namespace {

double matmulPeakGflops() {
    const torch::Tensor a = torch::rand({2048, 2048});
    const torch::Tensor b = torch::rand({2048, 2048});
    torch::mm(a, b);  // warm-up
    double best = 0;
    for (int round = 0; round < 3; ++round) {
        const auto start = Clock::now();
        for (int i = 0; i < 4; ++i)
            torch::mm(a, b);
        const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
        best = std::max(best, 4 * 2.0 * 2048.0 * 2048.0 * 2048.0 / seconds / 1e9);
    }
    return best;
}

/// Multiply-accumulates of one forward pass, from the summary (conv and dense layers).
double forwardMacs(const ModelConfig& config) {
    const Classifier model = makeClassifier(config);
    double macs = 0;
    for (const LayerInfo& l : model->summary()) {
        if (l.kind == "Conv2D" && l.outputShape.size() == 3)
            macs += double(l.parameters - l.outputShape[0]) *
                    double(l.outputShape[1] * l.outputShape[2]);
        else if (l.kind == "Dense" && l.outputShape.size() == 1)
            macs += double(l.parameters - l.outputShape[0]);
    }
    return macs;
}

struct Timing : TrainingObserver {
    double trainImagesPerSecond = 0;
    double epochSeconds = 0;
    void onBatchEnd(const BatchEnd& e) override { trainImagesPerSecond = e.epochImagesPerSecond; }
    void onEpochEnd(const EpochEnd& e) override { epochSeconds = e.seconds; }
};

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: bench_training DATA [threads]\n");
        return 2;
    }
    const int threads = argc > 2 ? std::atoi(argv[2]) : 0;
    configureThreads(threads);
    const double peak = matmulPeakGflops();

    TrainConfig c;
    c.dataDir = argv[1];
    c.runDir =
        (std::filesystem::temp_directory_path() / ("convscope-bench-" + std::to_string(::getpid())))
            .string();
    c.model.architecture = Architecture::SmallConvNet;
    c.model.inputSize = 150;
    c.epochs = 1;
    c.batchSize = 32;
    c.optimizer = OptimizerKind::RmsProp;
    c.learningRate = 1e-4;
    c.threads = threads;
    c.augmentation.rotationRange = 40;
    c.augmentation.widthShiftRange = 0.2;
    c.augmentation.heightShiftRange = 0.2;
    c.augmentation.shearRange = 20;
    c.augmentation.setZoomRange(0.2);
    c.augmentation.horizontalFlip = true;

    Timing timing;
    const auto start = Clock::now();
    Trainer(c, &timing).run();
    const double total = std::chrono::duration<double>(Clock::now() - start).count();
    std::filesystem::remove_all(c.runDir);

    c.model.classCount = 2;
    const double gflopPerImage =
        3 * 2 * forwardMacs(c.model) / 1e9;  // forward + backward ~ 3x forward
    const double achieved = gflopPerImage * timing.trainImagesPerSecond;
    std::printf(
        "{\"train_images_per_second\": %.2f, \"epoch_seconds\": %.2f, \"end_to_end_seconds\": "
        "%.2f, "
        "\"gflop_per_training_image\": %.3f, \"achieved_gflops\": %.1f, \"matmul_peak_gflops\": "
        "%.1f, "
        "\"fraction_of_peak\": %.3f, \"threads\": %d}\n",
        timing.trainImagesPerSecond, timing.epochSeconds, total, gflopPerImage, achieved, peak,
        achieved / peak, torchThreadCount());
    return 0;
}
