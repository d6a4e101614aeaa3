#include "train/trainconfig.h"

#include "error.h"
#include "models/modeljson.h"
#include "util/enumnames.h"
#include "util/text.h"

#include <nlohmann/json.hpp>

#include <cmath>

namespace convscope {

namespace {

const EnumName<OptimizerKind> kOptimizers[] = {{OptimizerKind::Sgd, "sgd"},
                                               {OptimizerKind::Adam, "adam"},
                                               {OptimizerKind::RmsProp, "rmsprop"}};
const EnumName<Schedule> kSchedules[] = {{Schedule::Constant, "constant"},
                                         {Schedule::Step, "step"},
                                         {Schedule::Cosine, "cosine"},
                                         {Schedule::Plateau, "plateau"}};

}  // namespace

const char* optimizerName(OptimizerKind k) {
    return enumName(k, kOptimizers);
}

OptimizerKind parseOptimizer(const std::string& name) {
    return parseEnum(name, kOptimizers, "optimizer");
}

const char* scheduleName(Schedule s) {
    return enumName(s, kSchedules);
}

Schedule parseSchedule(const std::string& name) {
    return parseEnum(name, kSchedules, "schedule");
}

void validateTrainConfig(const TrainConfig& c) {
    auto check = [](bool ok, const char* option, const std::string& what) {
        if (!ok)
            throw Error(option, what);
    };
    auto text = [](double v) { return std::to_string(v); };
    check(c.epochs >= 1, "epochs", std::to_string(c.epochs) + ": must be at least 1");
    check(c.batchSize >= 0, "batch size", std::to_string(c.batchSize) + ": must be positive");
    check(std::isfinite(c.learningRate) && c.learningRate > 0, "learning rate",
          text(c.learningRate) + ": must be a positive finite number");
    check(std::isfinite(c.momentum) && c.momentum >= 0 && c.momentum < 1, "momentum",
          text(c.momentum) + ": must be in [0, 1)");
    check(std::isfinite(c.weightDecay) && c.weightDecay >= 0, "weight decay",
          text(c.weightDecay) + ": must be zero or positive");
    check(c.validationFraction >= 0 && c.validationFraction < 1, "validation fraction",
          text(c.validationFraction) + ": must be in [0, 1)");
    check(std::isfinite(c.stepGamma) && c.stepGamma > 0, "step gamma",
          text(c.stepGamma) + ": must be positive");
    check(std::isfinite(c.plateauFactor) && c.plateauFactor > 0 && c.plateauFactor <= 1,
          "plateau factor", text(c.plateauFactor) + ": must be in (0, 1]");
    check(c.stepEpochs >= 1 && c.plateauPatience >= 1, "schedule",
          "step epochs and plateau patience must be at least 1");
    check(c.earlyStoppingPatience >= 0, "early stopping", "patience must be zero or positive");
    check(!c.nesterov || (c.optimizer == OptimizerKind::Sgd && c.momentum > 0), "nesterov",
          "needs the SGD optimizer with a momentum above 0");
    check(c.model.inputSize >= 8 && c.model.inputSize <= kMaxInputSize, "input size",
          std::to_string(c.model.inputSize) + ": must be 8 to " + std::to_string(kMaxInputSize) +
              " pixels");
    check(std::isfinite(c.model.dropout) && c.model.dropout >= 0 && c.model.dropout < 1, "dropout",
          text(c.model.dropout) + ": must be in [0, 1)");
    // config.json is JSON, which holds only UTF-8; an escaped path would not resolve again.
    for (const std::string* path : {&c.dataDir, &c.runDir, &c.initialWeights, &c.featuresCache})
        check(isValidUtf8(*path), escapeInvalidUtf8(*path).c_str(),
              "a folder or file name that is not UTF-8 cannot be recorded in config.json; "
              "rename it");
}

std::string toJson(const TrainConfig& c) {
    const AugmentParams& a = c.augmentation;
    nlohmann::json j{
        {"data", c.dataDir},
        {"run_dir", c.runDir},
        {"epochs", c.epochs},
        {"batch_size", c.batchSize},
        {"optimizer", optimizerName(c.optimizer)},
        {"learning_rate", c.learningRate},
        {"momentum", c.momentum},
        {"nesterov", c.nesterov},
        {"weight_decay", c.weightDecay},
        {"schedule", scheduleName(c.schedule)},
        {"step_epochs", c.stepEpochs},
        {"step_gamma", c.stepGamma},
        {"plateau_patience", c.plateauPatience},
        {"plateau_factor", c.plateauFactor},
        {"early_stopping_patience", c.earlyStoppingPatience},
        {"seed", c.seed},
        {"device", deviceName(c.device)},
        {"precision", precisionName(c.precision)},
        {"device_used", c.deviceUsed},
        {"precision_used", c.precisionUsed},
        {"validation_fraction", c.validationFraction},
        {"augment", c.augment},
        {"augmentation",
         {{"rotation_range", a.rotationRange},
          {"width_shift_range", a.widthShiftRange},
          {"height_shift_range", a.heightShiftRange},
          {"shear_range", a.shearRange},
          {"zoom_range", {a.zoomLow, a.zoomHigh}},
          {"horizontal_flip", a.horizontalFlip},
          {"vertical_flip", a.verticalFlip},
          {"brightness_range", {a.brightnessLow, a.brightnessHigh}},
          {"channel_shift_range", a.channelShiftRange},
          {"fill_mode", fillModeName(a.fillMode)},
          {"cval", a.cval}}},
        {"preprocessing", preprocessingToJson(c.preprocessing)},
        {"channels_last", c.channelsLast},
        {"threads", c.threads},
        {"world_size", c.distributed.worldSize},
        {"loader_workers", c.loaderWorkers},
        {"cache_budget_bytes", c.cacheBudgetBytes},
        {"initial_weights", c.initialWeights},
        {"initial_kernel_layout", kernelLayoutName(c.initialKernelLayout)},
        {"freeze_up_to", c.freezeUpTo},
        {"bottleneck", c.bottleneck},
        {"features_cache", c.featuresCache},
        {"batch_norm_inference", c.batchNormInference},
    };
    addModelConfig(j, c.model, /*withClassCount=*/false);
    return j.dump(2);
}

TrainConfig trainConfigFromJson(const std::string& text, const std::string& source) {
    try {
        const nlohmann::json j = nlohmann::json::parse(text);
        TrainConfig c;
        c.dataDir = j.at("data");
        c.runDir = j.at("run_dir");
        c.model = modelConfigFromJson(j, /*withClassCount=*/false);
        c.epochs = j.at("epochs");
        c.batchSize = j.at("batch_size");
        c.optimizer = parseOptimizer(j.at("optimizer"));
        c.learningRate = j.at("learning_rate");
        c.momentum = j.at("momentum");
        c.nesterov = j.at("nesterov");
        c.weightDecay = j.at("weight_decay");
        c.schedule = parseSchedule(j.at("schedule"));
        c.stepEpochs = j.at("step_epochs");
        c.stepGamma = j.at("step_gamma");
        c.plateauPatience = j.at("plateau_patience");
        c.plateauFactor = j.at("plateau_factor");
        c.earlyStoppingPatience = j.at("early_stopping_patience");
        c.seed = j.at("seed");
        c.device = parseDevice(j.at("device"));
        c.precision = parsePrecision(j.value("precision", "fp32"));
        c.deviceUsed = j.value("device_used", "");
        c.precisionUsed = j.value("precision_used", "");
        c.validationFraction = j.at("validation_fraction");
        c.augment = j.at("augment");
        const auto& a = j.at("augmentation");
        AugmentParams& p = c.augmentation;
        p.rotationRange = a.at("rotation_range");
        p.widthShiftRange = a.at("width_shift_range");
        p.heightShiftRange = a.at("height_shift_range");
        p.shearRange = a.at("shear_range");
        p.zoomLow = a.at("zoom_range").at(0);
        p.zoomHigh = a.at("zoom_range").at(1);
        p.horizontalFlip = a.at("horizontal_flip");
        p.verticalFlip = a.at("vertical_flip");
        p.brightnessLow = a.at("brightness_range").at(0);
        p.brightnessHigh = a.at("brightness_range").at(1);
        p.channelShiftRange = a.at("channel_shift_range");
        p.fillMode = parseFillMode(a.at("fill_mode"));
        p.cval = a.at("cval");
        c.preprocessing = preprocessingFromJson(j.at("preprocessing"));
        c.channelsLast = j.at("channels_last");
        c.threads = j.at("threads");
        c.loaderWorkers = j.at("loader_workers");
        c.cacheBudgetBytes = j.at("cache_budget_bytes");
        c.initialWeights = j.at("initial_weights");
        c.initialKernelLayout = parseKernelLayout(j.value("initial_kernel_layout", "auto"));
        c.freezeUpTo = j.at("freeze_up_to");
        c.bottleneck = j.value("bottleneck", false);  // absent in runs from before it existed
        c.featuresCache = j.value("features_cache", std::string());
        c.batchNormInference = j.value("batch_norm_inference", false);
        return c;
    } catch (const nlohmann::json::exception& e) {
        throw Error(source, std::string("bad run configuration (") + e.what() + ")");
    } catch (const Error& e) {
        throw Error(source, std::string("bad run configuration (") + e.what() + ")");
    }
}

DeviceChoice deviceForRank(const TrainConfig& c) {
    DeviceChoice choice = c.device;
    if (c.distributed.distributed() && choice.kind != DeviceChoice::Kind::Cpu && choice.index < 0)
        choice.index = c.distributed.localRank;
    return choice;
}

}  // namespace convscope
