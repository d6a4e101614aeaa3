#include "train/runcontrol.h"

#include "error.h"
#include "util/atomicfile.h"

#include <nlohmann/json.hpp>

#include <sys/stat.h>

#include <filesystem>
#include <utility>

namespace convscope {

namespace fs = std::filesystem;

namespace {

std::string controlPath(const std::string& runDir) {
    return (fs::path(runDir) / "control.json").string();
}

/// Which file `path` is now: its inode and modification time (each request is a new file,
/// renamed into place, so two requests within one clock tick still differ); 0 when none.
std::pair<unsigned long long, long long> fileIdentity(const std::string& path) {
    struct stat info {};
    if (::stat(path.c_str(), &info) != 0)
        return {0, 0};
    return {(unsigned long long)info.st_ino,
            (long long)info.st_mtim.tv_sec * 1000000000LL + info.st_mtim.tv_nsec};
}

}  // namespace

const char* runRequestName(RunRequest request) {
    switch (request) {
        case RunRequest::Pause:
            return "pause";
        case RunRequest::Continue:
            return "continue";
        case RunRequest::Cancel:
            return "cancel";
    }
    return "?";
}

std::optional<RunRequest> runRequestFromName(const std::string& name) {
    for (RunRequest r : {RunRequest::Pause, RunRequest::Continue, RunRequest::Cancel})
        if (name == runRequestName(r))
            return r;
    return std::nullopt;
}

void requestRun(const std::string& runDir, RunRequest request) {
    if (!fs::exists(fs::path(runDir) / "config.json") &&
        !fs::exists(fs::path(runDir) / "recipe.json"))
        throw Error(runDir, "holds no run (no config.json or recipe.json)");
    const nlohmann::json j{{"request", runRequestName(request)}};
    writeTextFileAtomically(controlPath(runDir), j.dump(2));
}

void clearRunRequests(const std::string& runDir) {
    std::error_code ignored;
    fs::remove(controlPath(runDir), ignored);
}

RunControlWatcher::RunControlWatcher(std::string runDir, std::chrono::milliseconds interval)
    : m_path(controlPath(runDir)), m_interval(interval), m_seen(fileIdentity(m_path)) {}

std::optional<RunRequest> RunControlWatcher::poll() {
    const auto time = std::chrono::steady_clock::now();
    if (time - m_lastLook < m_interval)
        return std::nullopt;
    m_lastLook = time;
    const auto now = fileIdentity(m_path);
    if (now.first == 0 || now == m_seen)
        return std::nullopt;
    m_seen = now;
    try {
        const nlohmann::json j = nlohmann::json::parse(readTextFile(m_path));
        return runRequestFromName(j.at("request").get<std::string>());
    } catch (const std::exception&) {
        return std::nullopt;  // damaged, or being replaced: the next request counts
    }
}

}  // namespace convscope
