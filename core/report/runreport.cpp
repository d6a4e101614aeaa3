#include "report/runreport.h"

#include "data/datasetindex.h"
#include "data/imagedecoder.h"
#include "error.h"
#include "inspect/colormap.h"
#include "inspect/imagegrid.h"
#include "inspect/inspector.h"
#include "inspect/predictor.h"
#include "train/confusionrecord.h"
#include "train/runstatus.h"
#include "util/atomicfile.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <numeric>

namespace convscope {

namespace fs = std::filesystem;

namespace {

/// Runs one part of the report; what it cannot do becomes a note and the report goes on.
template <typename Part>
void attempt(RunReport& r, const std::string& what, Part&& part) {
    try {
        part();
    } catch (const std::exception& e) {
        r.notes.push_back(what + ": " + readableReason(e.what()));
    }
}

/// import-report.json: a plain run keeps it in its folder, a recipe in its phases' folders.
void readDataSummary(const fs::path& dir, RunReport& r) {
    fs::path file;
    for (const fs::path& candidate :
         {dir / "import-report.json", dir / "head" / "import-report.json",
          dir / "finetune" / "import-report.json"})
        if (file.empty() && fs::exists(candidate))
            file = candidate;
    if (file.empty())
        throw Error(dir.string(),
                    "no import-report.json (the run stopped before its data was read)");
    try {
        const nlohmann::json j = nlohmann::json::parse(readTextFile(file.string()));
        for (const nlohmann::json& c : j.at("classes"))
            r.classes.push_back({c.at("name").get<std::string>(), c.value("train", 0LL),
                                 c.value("validation", 0LL)});
        for (const nlohmann::json& s : j.value("skipped", nlohmann::json::array()))
            r.skipped.emplace_back(s.value("path", std::string()),
                                   s.value("reason", std::string()));
        r.dataWarnings = j.value("warnings", std::vector<std::string>());
    } catch (const nlohmann::json::exception& e) {
        throw Error(file.string(), std::string("damaged (") + readableReason(e.what()) + ")");
    }
}

ReportPicture picture(const std::string& path, const RgbImage& image, const std::string& truth,
                      const std::string& predicted, float confidence, int size) {
    const RgbImage shown = scaledToFit(image, size);
    return {path, truth, predicted, confidence, encodeJpeg(shown, 90), shown.width, shown.height};
}

/// The most confidently misclassified validation images, most confident first.
void findMisclassified(Predictor& predictor, const Evaluation& e, const ReportOptions& o,
                       RunReport& r) {
    std::vector<std::string> paths;
    std::vector<int> truths;
    for (std::size_t i = 0; i < e.predictions.size() && i < e.samplePaths.size(); ++i)
        if (e.predictions[i] != e.truths[i]) {
            paths.push_back(e.samplePaths[i]);
            truths.push_back(e.truths[i]);
        }
    const std::vector<Prediction> p = predictor.predictFiles(paths, o.batchSize);
    std::vector<std::size_t> order(p.size());
    std::iota(order.begin(), order.end(), std::size_t(0));
    auto confidence = [&](std::size_t k) {
        return p[k].error.empty() ? p[k].probabilities[std::size_t(p[k].top)] : -1.0f;
    };
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return confidence(a) > confidence(b); });
    for (std::size_t k : order) {
        if (int(r.misclassified.size()) >= o.misclassified || !p[k].error.empty())
            break;
        r.misclassified.push_back(
            picture(paths[k], decodeRgbImage(paths[k]), r.classNames[std::size_t(truths[k])],
                    r.classNames[std::size_t(p[k].top)], confidence(k), o.imageSize));
    }
}

/// The first validation images of each class with the class activation map of what the model
/// predicts: CAM where the head pools globally, Grad-CAM otherwise.
void findActivations(const std::string& weights, const Evaluation& e, const ReportOptions& o,
                     RunReport& r) {
    Inspector inspector(weights);
    std::optional<CamMethod> method;
    std::vector<int> shown(r.classNames.size(), 0);
    for (std::size_t i = 0; i < e.truths.size() && i < e.samplePaths.size(); ++i) {
        const std::size_t truth = std::size_t(e.truths[i]);
        if (truth >= shown.size() || shown[truth] >= o.camPerClass)
            continue;
        const RgbImage image = decodeRgbImage(e.samplePaths[i]);
        ClassActivation cam;
        if (!method) {
            try {
                cam = inspector.classActivation(image, -1, CamMethod::Cam);
                method = CamMethod::Cam;
            } catch (const Error&) {
                method = CamMethod::GradCam;  // no global-average-pooling head
            }
        }
        if (cam.heat.empty())
            cam = inspector.classActivation(image, -1, *method);
        RgbImage overlay = overlayHeat(image, cam.heat, 0.45f, Colormap::Jet);
        drawBox(overlay, cam.boxX0, cam.boxY0, cam.boxX1, cam.boxY1, {255, 255, 255},
                std::max(1, std::min(image.width, image.height) / 100));
        r.activations.push_back(picture(e.samplePaths[i], overlay, r.classNames[truth],
                                        r.classNames[std::size_t(cam.classIndex)],
                                        cam.probabilities[std::size_t(cam.classIndex)],
                                        o.imageSize));
        r.activationLayer = cam.featureLayer;
        r.activationMapWidth = cam.mapWidth;
        r.activationMapHeight = cam.mapHeight;
        ++shown[truth];
    }
    r.activationMethod = method == CamMethod::Cam ? "CAM" : "Grad-CAM";
}

/// Evaluates the run's weights on its validation split again: the confusion matrix, the
/// misclassified images and the activation maps.
void evaluateAgain(const fs::path& dir, const ReportOptions& o, const std::atomic<bool>* cancel,
                   RunReport& r) {
    const TrainConfig config = runTrainConfig(dir.string());
    Predictor predictor(r.weightsFile);
    const Evaluation e =
        predictor.evaluate(config.dataDir, Split::Validation, config.validationFraction,
                           config.seed, o.batchSize, cancel);
    if (e.cancelled)
        throw Error(dir.string(), "the report was cancelled");
    r.classNames = predictor.metadata().classNames;
    r.confusion = e.confusion;
    r.validationLoss = e.loss;
    r.confusionSource = "evaluated now: " + fs::path(r.weightsFile).filename().string() +
                        " on the " + std::to_string(e.samples) + " validation images of " +
                        config.dataDir;
    attempt(r, "Misclassified images", [&] { findMisclassified(predictor, e, o, r); });
    attempt(r, "Class activation maps", [&] { findActivations(r.weightsFile, e, o, r); });
}

}  // namespace

RunReport gatherRunReport(const std::string& runDir, const ReportOptions& o,
                          const std::atomic<bool>* cancel) {
    return atBoundary(runDir, [&] {
        if (!isRunFolder(runDir))
            throw Error(runDir,
                        "not a ConvScope run folder (no config.json, recipe.json or "
                        "status.json)");
        const fs::path dir = fs::absolute(runDir).lexically_normal();
        RunReport r;
        r.written = isoTimeNow();
        r.summary = describeRun(dir.string());
        attempt(r, "Settings", [&] { r.settings = runSettings(dir.string()); });
        attempt(r, "Data", [&] { readDataSummary(dir, r); });
        attempt(r, "Curves", [&] { r.history = readRunHistory(dir.string()); });
        for (const char* name : {"weights.h5", "latest.h5"})
            if (r.weightsFile.empty() && fs::exists(dir / name))
                r.weightsFile = (dir / name).string();
        if (r.weightsFile.empty())
            r.notes.push_back("Evaluation: the run has no weights yet (weights.h5, latest.h5)");
        else
            attempt(r, "Evaluation", [&] { evaluateAgain(dir, o, cancel, r); });
        if (cancel && cancel->load())
            throw Error(runDir, "the report was cancelled");
        if (r.confusion.empty())
            attempt(r, "Recorded confusion matrix", [&] {
                if (const std::optional<ConfusionRecord> c = readConfusionRecord(dir.string())) {
                    r.classNames = c->classes;
                    r.confusion = c->matrix;
                    r.confusionSource = "recorded at the end of epoch " + std::to_string(c->epoch) +
                                        " (confusion.json)";
                }
            });
        return r;
    });
}

void writeRunReport(const std::string& runDir, const std::string& outPath,
                    const ReportOptions& options, const std::atomic<bool>* cancel) {
    const std::string html = reportHtml(gatherRunReport(runDir, options, cancel));
    writeTextFileAtomically(outPath, html);
}

}  // namespace convscope
