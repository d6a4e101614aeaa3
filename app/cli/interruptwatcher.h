#pragma once

#include <functional>
#include <thread>

namespace convscope::cli {

/// Ctrl-C for a long command. The SIGINT handler only writes a byte to a pipe (async-signal
/// safe); a watcher thread reads it and calls `onInterrupt` there, where taking locks is fine,
/// then restores the default handler so that a second Ctrl-C quits at once. One watcher at a
/// time; the destructor stops the thread and restores the default handler.
class InterruptWatcher {
public:
    explicit InterruptWatcher(std::function<void()> onInterrupt);
    ~InterruptWatcher();
    InterruptWatcher(const InterruptWatcher&) = delete;
    InterruptWatcher& operator=(const InterruptWatcher&) = delete;

private:
    std::function<void()> m_onInterrupt;
    int m_pipe[2] = {-1, -1};
    std::thread m_thread;
};

}  // namespace convscope::cli
