#pragma once

#include <chrono>
#include <ctime>
#include <optional>
#include <string>
#include <utility>

namespace convscope {

/// What another process asks of a run it does not train: the window, or `convscope control`,
/// writes the request into the run folder's control.json; the process that trains the run
/// (rank 0 of a data-parallel run, which tells the others) obeys it within a step.
enum class RunRequest { Pause, Continue, Cancel };

const char* runRequestName(RunRequest request);  ///< "pause", "continue", "cancel"
/// The request a name stands for; nothing for another word.
std::optional<RunRequest> runRequestFromName(const std::string& name);

/// Writes `request` into `runDir`/control.json atomically. Throws convscope::Error naming the
/// file when it cannot be written, or `runDir` when it holds no run.
void requestRun(const std::string& runDir, RunRequest request);
/// Removes a request left by an earlier session (a run starting or resuming obeys only the
/// requests made while it trains).
void clearRunRequests(const std::string& runDir);

/// Watches one run folder's control.json for new requests: a file written since the last
/// look (or since the watcher was made), looked at no more often than every `interval`.
/// A damaged or unknown request is ignored. Not thread-safe.
class RunControlWatcher {
public:
    explicit RunControlWatcher(std::string runDir,
                               std::chrono::milliseconds interval = std::chrono::milliseconds(200));
    /// The request written since the last call that returned one, if any.
    std::optional<RunRequest> poll();

private:
    std::string m_path;
    std::chrono::milliseconds m_interval;
    std::chrono::steady_clock::time_point m_lastLook{};
    /// The file last obeyed or found: its inode and modification time (ns).
    std::pair<unsigned long long, long long> m_seen;
};

}  // namespace convscope
