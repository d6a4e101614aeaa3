#pragma once

#include <ctime>
#include <optional>
#include <string>
#include <vector>

namespace convscope {

/// Where a run stands, as its folder's status.json records it.
enum class RunState { Running, Finished, Interrupted, Failed };

const char* runStateName(RunState state);  ///< "running", "finished", "interrupted", "failed"

/// What status.json holds: which process trains the run (or last did), since when, and how it
/// ended. Written by the trainer and the fine-tuning recipe, read by the runs listing.
struct RunStatus {
    RunState state = RunState::Running;
    long long pid = 0;
    std::string host;
    std::string started;         ///< ISO 8601 UTC: when the run first started
    std::string sessionStarted;  ///< ISO 8601 UTC: when the current (or last) session started
    double secondsBefore = 0;    ///< time spent in earlier sessions (resumes)
    std::string ended;           ///< ISO 8601 UTC; empty while running
    std::string error;           ///< why a failed run stopped
    /// A data-parallel run's processes: each rank's training images/s in its last epoch,
    /// by rank; empty for a run in one process.
    std::vector<double> rankImagesPerSecond;
    bool paused = false;  ///< a running run that waits to be continued
};

/// A time as ISO 8601 UTC, "2026-11-30T10:14:00Z".
std::string isoTime(std::time_t time);
/// isoTime of now.
std::string isoTimeNow();
/// Seconds since the epoch for an ISO 8601 UTC time as isoTimeNow writes it; nullopt for text
/// that is not one.
std::optional<double> secondsFromIsoTime(const std::string& text);
/// This machine's host name.
std::string hostName();
/// Whether a process with this id runs on this machine.
bool processAlive(long long pid);

/// status.json of `runDir`, or nothing when the folder has none. Throws convscope::Error
/// naming the file when it is damaged.
std::optional<RunStatus> readRunStatus(const std::string& runDir);
/// Writes status.json atomically. Throws convscope::Error naming the file.
void writeRunStatus(const std::string& runDir, const RunStatus& status);

/// Keeps a run folder's status.json while this process trains it: start() records this
/// process as running it (keeping when the run first started, for a resume); end() records
/// how it ended. Nothing is written before start(), so a run refused before its folder is
/// made leaves no file. Not thread-safe; the training thread owns it.
class RunStatusRecord {
public:
    void start(const std::string& runDir);
    /// Records the end; a no-op before start() or after an earlier end(). Never throws: a
    /// status that cannot be written must not hide why the run ended.
    void end(RunState state, const std::string& error = {}) noexcept;
    /// end(Failed) with the reason of the exception being handled. Call in a catch block.
    void endWithCurrentException() noexcept;
    /// Records each rank's training images/s of a data-parallel run (after each epoch).
    /// Throws convscope::Error naming the file when it cannot be written.
    void setRankThroughput(const std::vector<double>& imagesPerSecond);
    /// Records that the run waits (or goes on). Never throws: it only informs.
    void setPaused(bool paused) noexcept;

private:
    std::string m_runDir;
    RunStatus m_status;
    bool m_open = false;
};

}  // namespace convscope
