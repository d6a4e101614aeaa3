#include "train/runfolder.h"

#include "error.h"
#include "io/weightsfile.h"
#include "models/classifier.h"
#include "util/atomicfile.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <filesystem>

namespace convscope {

namespace fs = std::filesystem;

namespace {

/// The class names a run was started with, from its import-report.json (empty if unknown).
std::vector<std::string> recordedClasses(const fs::path& runDir) {
    const fs::path report = runDir / "import-report.json";
    std::vector<std::string> names;
    if (!fs::exists(report))
        return names;
    try {
        const auto j = nlohmann::json::parse(readTextFile(report.string()));
        for (const auto& c : j.at("classes"))
            names.push_back(c.at("name").get<std::string>());
    } catch (const nlohmann::json::exception&) {
        throw Error(report.string(), "damaged (not the JSON ConvScope writes)");
    }
    return names;
}

std::string joined(const std::vector<std::string>& names) {
    std::string s;
    for (const auto& n : names)
        s += (s.empty() ? "" : ", ") + n;
    return s;
}

/// The folder training started from, for a run that recorded `recorded` (relative) and is
/// now at `now`: `now` without the recorded tail. Empty when the tails differ.
fs::path startingFolder(const fs::path& recorded, const fs::path& now) {
    fs::path start = now;
    for (auto part = std::distance(recorded.begin(), recorded.end()); part > 0; --part)
        start = start.parent_path();
    return (start / recorded).lexically_normal() == now ? start : fs::path();
}

}  // namespace

TrainConfig readRunConfig(const std::string& runDir) {
    const std::string path = (fs::path(runDir) / "config.json").string();
    if (!fs::exists(path))
        throw Error(runDir, "not a ConvScope run directory (no config.json)");
    TrainConfig c = trainConfigFromJson(readTextFile(path), path);
    const fs::path now = fs::absolute(runDir).lexically_normal();
    const fs::path recordedRun = fs::path(c.runDir).lexically_normal();
    if (!c.dataDir.empty() && fs::path(c.dataDir).is_relative() && recordedRun.is_relative())
        if (const fs::path start = startingFolder(recordedRun, now); !start.empty())
            c.dataDir = (start / c.dataDir).lexically_normal().string();
    c.runDir = now.string();
    return c;
}

void adoptStartingWeights(TrainConfig& c) {
    if (c.initialWeights.empty())
        return;
    const WeightsFile file = WeightsFile::open(c.initialWeights, WeightsFile::Contents::Metadata);
    const std::optional<WeightsMetadata>& origin = file.metadata();
    // A Keras network built from its own config takes any Keras file's layers by name.
    if (file.format() == WeightsFormat::KerasBackbone &&
        c.model.architecture != Architecture::Keras) {
        if (c.model.architecture != origin->model.architecture)
            throw Error(c.initialWeights, "holds a " + file.description() + "; train it as " +
                                              architectureName(origin->model.architecture));
        c.model.flavour = origin->model.flavour;
    }
    // Weights only make sense with the preprocessing they were trained with.
    if (origin)
        c.preprocessing = origin->preprocessing;
}

void checkModelSettings(const TrainConfig& c) {
    ModelConfig probe = c.model;
    probe.classCount = std::max(2, probe.classCount);
    Classifier model = makeClassifier(probe);
    if (!c.freezeUpTo.empty())
        model->freezeUpTo(c.freezeUpTo);
    try {
        torch::NoGradGuard noGrad;
        model->eval();
        model->forward(torch::zeros({1, 3, c.model.inputSize, c.model.inputSize}));
    } catch (const c10::Error&) {
        throw Error("input size " + std::to_string(c.model.inputSize),
                    std::string("too small for ") + architectureName(c.model.architecture) +
                        " (its feature maps would shrink to nothing)");
    }
}

void checkSameClasses(const std::string& runDir, const std::string& dataDir,
                      const std::vector<std::string>& classNames) {
    const std::vector<std::string> before = recordedClasses(runDir);
    if (!before.empty() && before != classNames)
        throw Error(dataDir, "its classes changed since this run started (then: " + joined(before) +
                                 "; now: " + joined(classNames) +
                                 "): a resumed run must see the same classes; start a new run "
                                 "instead");
}

std::string historyCsv(const std::vector<EpochEnd>& history) {
    const bool phases =
        std::any_of(history.begin(), history.end(), [](const EpochEnd& e) { return e.phase != 0; });
    std::string csv = "epoch,train_loss,train_accuracy,val_loss,val_accuracy,learning_rate,seconds";
    if (phases)
        csv += ",phase";
    csv += '\n';
    char line[256];
    for (const EpochEnd& e : history) {
        std::snprintf(line, sizeof line, "%d,%.6f,%.6f,%.6f,%.6f,%.8g,%.3f", e.epoch, e.trainLoss,
                      e.trainAccuracy, e.validationLoss, e.validationAccuracy, e.learningRate,
                      e.seconds);
        csv += line;
        if (phases) {
            csv += ',';
            csv += std::to_string(e.phase);
        }
        csv += '\n';
    }
    return csv;
}

}  // namespace convscope
