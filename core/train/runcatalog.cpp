#include "train/runcatalog.h"

#include "error.h"
#include "models/kerassurgery.h"
#include "train/finetuner.h"
#include "train/runfolder.h"
#include "train/runstatus.h"
#include "util/atomicfile.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

namespace convscope {

namespace fs = std::filesystem;

namespace {

std::string fileTimeIso(const fs::path& file) {
    const auto written = fs::last_write_time(file);
    const auto system = std::chrono::time_point_cast<std::chrono::system_clock::duration>(
        written - fs::file_time_type::clock::now() + std::chrono::system_clock::now());
    return isoTime(std::chrono::system_clock::to_time_t(system));
}

/// The run's settings (plain run or recipe), into `r`.
void readSettings(const fs::path& dir, RunSummary& r) {
    TrainConfig c;
    if (fs::exists(dir / "recipe.json")) {
        const FineTuneConfig f = FineTuner::resumeConfig(dir.string());
        c = f.base;
        r.recipe = true;
        r.epochsPlanned = f.headEpochs + f.fineTuneEpochs;
        // The phases record where they ran; the recipe's own copy was written before.
        for (const char* phase : {"finetune", "head"})
            if (r.device.empty() && fs::exists(dir / phase / "config.json"))
                r.device = readRunConfig((dir / phase).string()).deviceUsed;
    } else {
        c = readRunConfig(dir.string());
        r.epochsPlanned = c.epochs;
    }
    r.data = c.dataDir;
    r.architecture = networkName(c.model);
    if (!c.deviceUsed.empty())
        r.device = c.deviceUsed;
}

/// The status: status.json's, or for runs from before it was written, what the files say.
void readState(const fs::path& dir, RunSummary& r) {
    const std::optional<RunStatus> s = readRunStatus(dir.string());
    if (!s) {
        r.status = fs::exists(dir / "weights.h5") ? "finished" : "interrupted";
        const fs::path config =
            fs::exists(dir / "recipe.json") ? dir / "recipe.json" : dir / "config.json";
        if (fs::exists(config))
            r.started = fileTimeIso(config);
        return;
    }
    r.status = runStateName(s->state);
    r.started = s->started;
    r.pid = s->pid;
    r.host = s->host;
    r.rankImagesPerSecond = s->rankImagesPerSecond;
    r.paused = s->state == RunState::Running && s->paused;
    std::string ended = s->ended;
    if (s->state == RunState::Failed)
        r.reason = s->error;
    if (s->state == RunState::Running && s->host == hostName() && !processAlive(s->pid)) {
        r.status = "interrupted";
        r.paused = false;
        r.reason = "the process that trained it (" + std::to_string(s->pid) + ") is gone";
        // It ended, unrecorded, after the last file it wrote.
        for (const char* file : {"status.json", "history.csv", "checkpoint.pt", "latest.h5"})
            if (fs::exists(dir / file))
                ended = std::max(ended, fileTimeIso(dir / file));
    }
    r.durationSeconds = s->secondsBefore;
    const auto from = secondsFromIsoTime(s->sessionStarted);
    const auto to = secondsFromIsoTime(ended.empty() ? isoTimeNow() : ended);
    if (from && to && *to >= *from)
        r.durationSeconds += *to - *from;
}

}  // namespace

bool isRunFolder(const std::string& folder) {
    const fs::path dir(folder);
    std::error_code ec;
    return fs::is_regular_file(dir / "config.json", ec) ||
           fs::is_regular_file(dir / "recipe.json", ec) ||
           fs::is_regular_file(dir / "status.json", ec);
}

RunSummary describeRun(const std::string& runDir) {
    RunSummary r;
    const fs::path dir = fs::absolute(runDir).lexically_normal();
    r.path = dir.string();
    r.name = dir.filename().string();
    // Only a path that is not there, or is not a folder, is missing; one that cannot be
    // looked at (permissions) goes on, to be reported as damaged with the reason.
    std::error_code ec;
    const fs::file_status st = fs::status(dir, ec);
    if (st.type() == fs::file_type::not_found || (!ec && !fs::is_directory(st))) {
        r.status = "missing";
        r.reason = "there is no folder there";
        return r;
    }
    // Each part is read on its own, so that one damaged file leaves the rest in the summary.
    auto part = [&](auto&& read) {
        try {
            read();
        } catch (const std::exception& e) {
            if (r.status != "damaged")  // the first damage found is the one reported
                r.reason = readableReason(e.what());
            r.status = "damaged";
        }
    };
    part([&] { readState(dir, r); });
    part([&] {
        if (!fs::exists(dir / "config.json") && !fs::exists(dir / "recipe.json"))
            throw Error(r.path, "no config.json: the run never got past its first step");
        readSettings(dir, r);
    });
    part([&] {
        for (const RunEpoch& e : readRunHistory(r.path)) {
            ++r.epochsDone;
            r.bestValidationAccuracy = std::max(
                r.bestValidationAccuracy.value_or(e.validationAccuracy), e.validationAccuracy);
            r.finalValidationAccuracy = e.validationAccuracy;
        }
    });
    part([&] {
        if (!fs::exists(dir / "run.json"))
            return;
        const nlohmann::json j = nlohmann::json::parse(readTextFile((dir / "run.json").string()));
        r.name = j.value("name", r.name);
        r.note = j.value("note", std::string());
    });
    return r;
}

std::vector<RunSummary> listRuns(const std::string& workspace) {
    return atBoundary(workspace, [&] {
        std::error_code ec;
        if (!fs::is_directory(workspace, ec))
            throw Error(workspace, "not a folder");
        std::vector<RunSummary> runs;
        for (const fs::directory_entry& entry : fs::directory_iterator(workspace))
            if (entry.is_directory(ec) && isRunFolder(entry.path().string()))
                runs.push_back(describeRun(entry.path().string()));
        std::sort(runs.begin(), runs.end(), [](const RunSummary& a, const RunSummary& b) {
            return std::tie(a.started, a.path) < std::tie(b.started, b.path);
        });
        return runs;
    });
}

void labelRun(const std::string& runDir, const std::string& name, const std::string& note) {
    atBoundary(runDir, [&] {
        if (!isRunFolder(runDir))
            throw Error(runDir, "not a ConvScope run folder");
        const fs::path file = fs::path(runDir) / "run.json";
        nlohmann::json j = nlohmann::json::object();
        if (fs::exists(file)) {
            try {
                j = nlohmann::json::parse(readTextFile(file.string()));
            } catch (const nlohmann::json::exception&) {
                j = nlohmann::json::object();  // a damaged label is replaced, not kept
            }
            if (!j.is_object())
                j = nlohmann::json::object();
        }
        if (name.empty())
            j.erase("name");
        else
            j["name"] = name;
        j["note"] = note;
        writeTextFileAtomically(file.string(), j.dump(2));
    });
}

std::vector<RunEpoch> readRunHistory(const std::string& runDir) {
    const fs::path file = fs::path(runDir) / "history.csv";
    std::vector<RunEpoch> epochs;
    if (!fs::exists(file))
        return epochs;
    return atBoundary(file.string(), [&] {
        std::istringstream in(readTextFile(file.string()));
        std::string line;
        std::getline(in, line);
        if (line.rfind("epoch,", 0) != 0)
            throw Error(file.string(), "damaged (no header line)");
        while (std::getline(in, line)) {
            if (line.empty())
                continue;
            // epoch, train loss and accuracy, validation loss and accuracy, learning rate,
            // seconds (and a phase for a recipe): historyCsv's columns.
            std::vector<std::string> cells;
            std::stringstream fields(line);
            for (std::string cell; std::getline(fields, cell, ',');)
                cells.push_back(cell);
            if (cells.size() < 7)
                throw Error(file.string(),
                            "damaged (a row with " + std::to_string(cells.size()) + " fields)");
            double v[5];
            for (std::size_t k = 0; k < 5; ++k) {
                try {
                    v[k] = std::stod(cells[k]);
                } catch (const std::exception&) {
                    throw Error(file.string(), "damaged ('" + cells[k] + "' is not a number)");
                }
            }
            epochs.push_back({int(v[0]), v[1], v[2], v[3], v[4]});
        }
        return epochs;
    });
}

namespace {

/// config.json (or recipe.json) as "key" -> JSON text, nested objects joined with '.'.
void flatten(const nlohmann::json& j, const std::string& prefix,
             std::map<std::string, std::string>& out) {
    if (j.is_object()) {
        for (const auto& [key, value] : j.items())
            flatten(value, prefix.empty() ? key : prefix + "." + key, out);
        return;
    }
    out[prefix] = j.dump();
}

}  // namespace

std::map<std::string, std::string> runSettings(const std::string& runDir) {
    const fs::path dir(runDir);
    const bool recipe = fs::exists(dir / "recipe.json");
    const fs::path file = dir / (recipe ? "recipe.json" : "config.json");
    if (!fs::exists(file))
        throw Error(dir.string(), "not a ConvScope run directory (no config.json)");
    std::map<std::string, std::string> settings;
    try {
        flatten(nlohmann::json::parse(readTextFile(file.string())), "", settings);
    } catch (const nlohmann::json::exception& e) {
        throw Error(file.string(), std::string("damaged (") + readableReason(e.what()) + ")");
    }
    // Where the run happens to live, and what it found out about itself once started.
    for (const char* key : {"run_dir", "device_used", "precision_used", "train.run_dir",
                            "train.device_used", "train.precision_used"})
        settings.erase(key);
    return settings;
}

TrainConfig runTrainConfig(const std::string& runDir) {
    return fs::exists(fs::path(runDir) / "recipe.json") ? FineTuner::resumeConfig(runDir).base
                                                        : readRunConfig(runDir);
}

std::string newRunFolder(const std::string& workspace) {
    const std::time_t now = std::time(nullptr);
    std::tm local{};
    localtime_r(&now, &local);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &local);
    fs::path candidate = fs::path(workspace) / stamp;
    for (int n = 2; fs::exists(candidate); ++n)
        candidate = fs::path(workspace) / (std::string(stamp) + "-" + std::to_string(n));
    return candidate.string();
}

std::vector<SettingDifference> differingSettings(const std::vector<std::string>& runDirs) {
    std::vector<std::map<std::string, std::string>> all;
    std::set<std::string> keys;
    for (const std::string& dir : runDirs) {
        all.push_back(runSettings(dir));
        for (const auto& [key, value] : all.back())
            keys.insert(key);
    }
    std::vector<SettingDifference> differences;
    for (const std::string& key : keys) {
        SettingDifference d{key, {}};
        for (const auto& settings : all) {
            const auto it = settings.find(key);
            d.values.push_back(it == settings.end() ? std::string() : it->second);
        }
        if (std::adjacent_find(d.values.begin(), d.values.end(), std::not_equal_to<>()) !=
            d.values.end())
            differences.push_back(std::move(d));
    }
    return differences;
}

std::string defaultWorkspace() {
    const char* data = std::getenv("XDG_DATA_HOME");
    const char* home = std::getenv("HOME");
    const fs::path base = data && *data   ? fs::path(data)
                          : home && *home ? fs::path(home) / ".local" / "share"
                                          : fs::current_path();
    return (base / "convscope" / "runs").string();
}

}  // namespace convscope
