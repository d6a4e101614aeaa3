#pragma once

#include "augment/augmentparams.h"
#include "dist/distsetup.h"
#include "io/kernellayout.h"
#include "models/modelconfig.h"
#include "models/preprocessing.h"
#include "runtime.h"

#include <cstdint>
#include <string>
#include <vector>

namespace convscope {

enum class OptimizerKind { Sgd, Adam, RmsProp };
enum class Schedule { Constant, Step, Cosine, Plateau };

const char* optimizerName(OptimizerKind k);  ///< "sgd", "adam", "rmsprop"
OptimizerKind parseOptimizer(const std::string& name);
const char* scheduleName(Schedule s);  ///< "constant", "step", "cosine", "plateau"
Schedule parseSchedule(const std::string& name);

struct TrainConfig {
    std::string dataDir;
    std::string runDir;
    ModelConfig model;  ///< classCount comes from the data
    int epochs = 10;
    int batchSize = 32;
    OptimizerKind optimizer = OptimizerKind::Adam;
    double learningRate = 1e-3;
    double momentum = 0.9;  ///< SGD momentum; RMSprop's is 0
    bool nesterov = false;
    double weightDecay = 0;
    Schedule schedule = Schedule::Constant;
    int stepEpochs = 10;  ///< step schedule: multiply by stepGamma every stepEpochs
    double stepGamma = 0.1;
    int plateauPatience = 2;  ///< plateau schedule: epochs without val-loss improvement
    double plateauFactor = 0.1;
    int earlyStoppingPatience = 0;  ///< 0: off
    std::uint64_t seed = 1337;
    DeviceChoice device;
    Precision precision = Precision::Auto;
    /// What the run really used once "auto" was settled (written by the trainer into
    /// config.json; a resumed run keeps it).
    std::string deviceUsed;
    std::string precisionUsed;
    /// Data-parallel training (dist/distsetup.h): this process's rank and the world. Only
    /// world_size is recorded in config.json; a resumed run may use another.
    DistributedSetup distributed;
    double validationFraction = 0.2;
    bool augment = true;
    AugmentParams augmentation;
    Preprocessing preprocessing;
    bool channelsLast = true;  ///< CPU memory format; measured faster for these nets here
    int threads = 0;           ///< LibTorch intra-op threads; 0 = all cores
    int loaderWorkers = 0;     ///< 0 = all cores
    std::uint64_t cacheBudgetBytes = 4ull << 30;
    /// The persistent decoded-image cache's folder (data/decodedstore.h); empty: decode
    /// every image. Not part of the run's config.json: it changes speed, not results.
    std::string decodedStore;
    /// Weights to start from: HDF5 (by layer name) or a torchvision .pth; a file that says how
    /// its inputs were preprocessed sets `preprocessing` (see io/pretrained.h).
    std::string initialWeights;
    /// How a Keras initialWeights file's conv kernels are read (io/kernellayout.h).
    KernelLayout initialKernelLayout = KernelLayout::Auto;
    std::string freezeUpTo;  ///< layer name; empty = train everything
    /// Bottleneck features: run the frozen backbone once over the training and validation
    /// images (no augmentation), cache what it outputs, and train only the head on that.
    bool bottleneck = false;
    /// Where the bottleneck features are cached; empty = <runDir>/bottleneck-features.h5.
    /// Runs that name the same file share it while weights, data and input size agree.
    std::string featuresCache;
    /// Every batch-norm layer stays in inference mode (its running statistics, not the
    /// batch's), frozen or not: what Keras advises when fine-tuning a pretrained backbone, so
    /// the head keeps seeing the features it was trained on.
    bool batchNormInference = false;
};

/// Checks every number of `config` (epochs, batch, learning rate, momentum, decay, fractions,
/// schedule settings) before anything is written. Throws convscope::Error naming the option.
void validateTrainConfig(const TrainConfig& config);

/// The device a run asks for, with a data-parallel rank's GPU: a rank that may train on a GPU
/// (--device cuda or auto without an index) takes cuda:LOCAL_RANK, one process per GPU.
DeviceChoice deviceForRank(const TrainConfig& config);

/// config.json text of a run, and back. fromJson throws convscope::Error on bad input.
std::string toJson(const TrainConfig& config);
TrainConfig trainConfigFromJson(const std::string& json, const std::string& source);

}  // namespace convscope
