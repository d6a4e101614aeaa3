#pragma once

#include "train/runcatalog.h"

#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace convscope {

/// What goes into a run's report beyond what its folder records.
struct ReportOptions {
    int misclassified = 12;  ///< the most confidently misclassified validation images shown
    int camPerClass = 2;     ///< validation images of each class shown with their CAM
    int imageSize = 192;     ///< the longer side of each picture in the report, pixels
    int batchSize = 32;
};

/// A picture in the report: a validation image (or its CAM overlay) and what the model made
/// of it.
struct ReportPicture {
    std::string path;  ///< the image file
    std::string truth;
    std::string predicted;
    float confidence = 0;  ///< the predicted class's probability
    std::vector<std::uint8_t> jpeg;
    int width = 0, height = 0;  ///< of the JPEG
};

/// Everything a run's report shows, gathered from its folder and, where the weights and the
/// data are still there, from evaluating the weights on the run's validation split again.
struct RunReport {
    RunSummary summary;
    std::map<std::string, std::string> settings;  ///< runSettings()

    struct ClassCount {
        std::string name;
        long long train = 0, validation = 0;
    };
    std::vector<ClassCount> classes;                           ///< from import-report.json
    std::vector<std::pair<std::string, std::string>> skipped;  ///< file, reason
    std::vector<std::string> dataWarnings;

    std::vector<RunEpoch> history;

    std::string weightsFile;  ///< the weights evaluated (weights.h5, else latest.h5)
    std::vector<std::string> classNames;
    std::vector<std::vector<std::int64_t>> confusion;  ///< [truth][predicted]; empty when none
    double validationLoss = -1;                        ///< < 0 when not evaluated now
    /// Where the confusion matrix comes from: evaluated now, or recorded at an epoch.
    std::string confusionSource;

    std::vector<ReportPicture> misclassified;  ///< most confident first
    std::string activationMethod;              ///< "CAM" or "Grad-CAM"
    std::string activationLayer;
    int activationMapWidth = 0, activationMapHeight = 0;  ///< the maps' resolution
    std::vector<ReportPicture> activations;               ///< class by class

    /// What could not go into the report, and why ("the data folder ... is gone: ...").
    std::vector<std::string> notes;
    std::string written;  ///< ISO 8601 UTC
};

/// Gathers a run's report. What one part cannot read becomes a note and the rest goes on, so a
/// damaged or half-written run still gets the report of what it has. Setting `*cancel` stops
/// the evaluation within a batch. Throws convscope::Error naming the folder when it is not a
/// run folder, or when cancelled.
RunReport gatherRunReport(const std::string& runDir, const ReportOptions& options = {},
                          const std::atomic<bool>* cancel = nullptr);

/// The report as one self-contained HTML page: every picture and chart is embedded as a data:
/// URL, no script, no file or network fetched when it is opened.
std::string reportHtml(const RunReport& report);

/// gatherRunReport, then the page written to `outPath` (replaced atomically). Throws
/// convscope::Error naming the folder or the file.
void writeRunReport(const std::string& runDir, const std::string& outPath,
                    const ReportOptions& options = {}, const std::atomic<bool>* cancel = nullptr);

}  // namespace convscope
