#pragma once

#include "train/trainconfig.h"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace convscope {

/// One run folder as the runs listing shows it (`convscope runs`, the window's Runs dock).
struct RunSummary {
    std::string path;  ///< the folder, absolute
    std::string name;  ///< run.json's "name", else the folder's name
    /// "running", "finished", "interrupted", "failed", "damaged" for a folder whose files
    /// cannot be read (then `reason` says why and the rest is what could be read), or
    /// "missing" when there is no folder at `path` (a run moved or deleted while followed).
    std::string status;
    std::string reason;   ///< why it is damaged or failed, or how it was interrupted
    std::string started;  ///< ISO 8601 UTC; from status.json, else config.json's time
    double durationSeconds = 0;
    std::string data;  ///< the data folder
    std::string architecture;
    bool recipe = false;  ///< the two-phase fine-tuning recipe
    int epochsDone = 0;
    int epochsPlanned = 0;
    std::optional<double> bestValidationAccuracy;
    std::optional<double> finalValidationAccuracy;
    std::string device;  ///< where it trained ("cpu", "cuda:0")
    std::string note;    ///< run.json's "note"
    long long pid = 0;   ///< the process training it, or that last did
    std::string host;
    /// A data-parallel run's processes: each rank's images/s in its last epoch; else empty.
    std::vector<double> rankImagesPerSecond;
    bool paused = false;  ///< running, and waiting to be continued (RunRequest::Continue)
};

/// The summary of one run folder. Never throws: what cannot be read makes it "damaged", a
/// folder that is not there "missing".
/// A folder whose status.json says running, on this host, by a process that is gone, is
/// "interrupted" (killed, or the machine stopped).
RunSummary describeRun(const std::string& runDir);

/// Whether `folder` is a run folder: it holds config.json, recipe.json or status.json.
bool isRunFolder(const std::string& folder);

/// Every run folder directly inside `workspace`, oldest first (by start, then path). A damaged
/// one is listed as such and never hides the others. Throws convscope::Error naming the
/// workspace when it is not a readable folder.
std::vector<RunSummary> listRuns(const std::string& workspace);

/// Names a run and gives it a note, in its folder's run.json (other keys there are kept). An
/// empty name means the folder's name. Throws convscope::Error naming the folder when it is
/// not a run folder or the file cannot be written.
void labelRun(const std::string& runDir, const std::string& name, const std::string& note);

/// One epoch of a run's history.csv, for curves.
struct RunEpoch {
    int epoch = 0;
    double trainLoss = 0, trainAccuracy = 0, validationLoss = 0, validationAccuracy = 0;
};

/// The epochs of `runDir`'s history.csv (empty when it has none yet). Throws
/// convscope::Error naming the file when it is damaged.
std::vector<RunEpoch> readRunHistory(const std::string& runDir);

/// One setting that differs between runs: its config.json key ("learning_rate",
/// "augmentation.rotation_range") and its value in each run, as JSON text ("" where a run
/// lacks it).
struct SettingDifference {
    std::string key;
    std::vector<std::string> values;
};

/// The settings that differ between the runs (plain runs' config.json, a recipe's
/// recipe.json with its training settings under "train."), in key order. Where a run was
/// started and what it recorded about itself afterwards (run folder, device used) are left
/// out. Throws convscope::Error naming a folder whose settings cannot be read.
std::vector<SettingDifference> differingSettings(const std::vector<std::string>& runDirs);

/// A run's settings as its config.json records them (a recipe's recipe.json, with its training
/// settings under "train."), nested keys joined with '.' ("augmentation.rotation_range") and
/// values as JSON text. Where the run lives and what it found out about itself once started
/// (device and precision used) are left out. Throws convscope::Error naming the folder or file.
std::map<std::string, std::string> runSettings(const std::string& runDir);

/// The training settings of a plain run (config.json) or of a recipe (its base settings).
/// Throws convscope::Error naming the folder or file.
TrainConfig runTrainConfig(const std::string& runDir);

/// A new run folder's path in `workspace`: the local time as yyyyMMdd-HHmmss, with "-2", "-3"
/// ... appended while that name is taken. Nothing is made.
std::string newRunFolder(const std::string& workspace);

/// Where runs go when no folder is named: $XDG_DATA_HOME/convscope/runs, else
/// ~/.local/share/convscope/runs (the window uses the same folder).
std::string defaultWorkspace();

}  // namespace convscope
