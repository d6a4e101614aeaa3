#include "train/runstatus.h"

#include "error.h"
#include "util/atomicfile.h"
#include "util/enumnames.h"

#include <nlohmann/json.hpp>

#include <cerrno>
#include <ctime>
#include <filesystem>
#include <signal.h>
#include <unistd.h>

namespace convscope {

namespace fs = std::filesystem;

namespace {

const EnumName<RunState> kRunStates[] = {{RunState::Running, "running"},
                                         {RunState::Finished, "finished"},
                                         {RunState::Interrupted, "interrupted"},
                                         {RunState::Failed, "failed"}};

std::string statusPath(const std::string& runDir) {
    return (fs::path(runDir) / "status.json").string();
}

}  // namespace

const char* runStateName(RunState state) {
    return enumName(state, kRunStates);
}

std::string isoTime(std::time_t time) {
    std::tm utc{};
    gmtime_r(&time, &utc);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
    return text;
}

std::string isoTimeNow() {
    return isoTime(std::time(nullptr));
}

std::optional<double> secondsFromIsoTime(const std::string& text) {
    std::tm utc{};
    const char* end = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%SZ", &utc);
    if (!end || *end != '\0')
        return std::nullopt;
    return double(timegm(&utc));
}

std::string hostName() {
    char name[256] = {};
    if (gethostname(name, sizeof name - 1) != 0)
        return "unknown";
    return name;
}

bool processAlive(long long pid) {
    if (pid <= 0)
        return false;
    return kill(pid_t(pid), 0) == 0 || errno == EPERM;
}

std::optional<RunStatus> readRunStatus(const std::string& runDir) {
    const std::string path = statusPath(runDir);
    if (!fs::exists(path))
        return std::nullopt;
    try {
        const nlohmann::json j = nlohmann::json::parse(readTextFile(path));
        RunStatus s;
        s.state = parseEnum(j.at("status").get<std::string>(), kRunStates, "status");
        s.pid = j.at("pid").get<long long>();
        s.host = j.at("host").get<std::string>();
        s.started = j.at("started").get<std::string>();
        s.sessionStarted = j.value("session_started", s.started);
        s.secondsBefore = j.value("seconds_before", 0.0);
        s.ended = j.value("ended", std::string());
        s.error = j.value("error", std::string());
        s.rankImagesPerSecond = j.value("ranks_images_per_second", std::vector<double>{});
        s.paused = j.value("paused", false);
        return s;
    } catch (const nlohmann::json::exception& e) {
        throw Error(path, std::string("damaged (") + readableReason(e.what()) + ")");
    } catch (const Error& e) {
        throw Error(path, "damaged (" + e.reason() + ")");
    }
}

void writeRunStatus(const std::string& runDir, const RunStatus& s) {
    const nlohmann::json j{{"status", runStateName(s.state)},
                           {"pid", s.pid},
                           {"host", s.host},
                           {"started", s.started},
                           {"session_started", s.sessionStarted},
                           {"seconds_before", s.secondsBefore},
                           {"ended", s.ended},
                           {"error", s.error}};
    nlohmann::json out = j;
    if (!s.rankImagesPerSecond.empty())
        out["ranks_images_per_second"] = s.rankImagesPerSecond;
    if (s.paused)
        out["paused"] = true;
    writeTextFileAtomically(statusPath(runDir), out.dump(2));
}

void RunStatusRecord::start(const std::string& runDir) {
    m_runDir = runDir;
    const std::string now = isoTimeNow();
    RunStatus s;
    try {
        if (const auto earlier = readRunStatus(runDir)) {
            s.started = earlier->started;
            s.secondsBefore = earlier->secondsBefore;
            const auto from = secondsFromIsoTime(earlier->sessionStarted);
            const auto to = secondsFromIsoTime(earlier->ended);
            if (from && to && *to >= *from)
                s.secondsBefore += *to - *from;
        }
    } catch (const Error&) {
        // A damaged status.json is replaced; the run's own files say the rest.
    }
    if (s.started.empty())
        s.started = now;
    s.sessionStarted = now;
    s.state = RunState::Running;
    s.pid = getpid();
    s.host = hostName();
    writeRunStatus(runDir, s);
    m_status = s;
    m_open = true;
}

void RunStatusRecord::end(RunState state, const std::string& error) noexcept {
    if (!m_open)
        return;
    m_open = false;
    try {
        m_status.state = state;
        m_status.paused = false;
        m_status.ended = isoTimeNow();
        m_status.error = error;
        writeRunStatus(m_runDir, m_status);
    } catch (...) {
        // The run's end is reported by its caller; a status file that cannot be written then
        // reads "running" with a process that is gone, which the listing calls interrupted.
    }
}

void RunStatusRecord::setRankThroughput(const std::vector<double>& imagesPerSecond) {
    if (!m_open)
        return;
    m_status.rankImagesPerSecond = imagesPerSecond;
    writeRunStatus(m_runDir, m_status);
}

void RunStatusRecord::setPaused(bool paused) noexcept {
    if (!m_open || m_status.paused == paused)
        return;
    m_status.paused = paused;
    try {
        writeRunStatus(m_runDir, m_status);
    } catch (const Error&) {
        // The window then shows the run as running; the run itself pauses all the same.
    }
}

void RunStatusRecord::endWithCurrentException() noexcept {
    std::string reason = "stopped by an unexpected error";
    try {
        throw;
    } catch (const std::exception& e) {
        reason = readableReason(e.what());
    } catch (...) {
    }
    end(RunState::Failed, reason);
}

}  // namespace convscope
