#include "cli/interruptwatcher.h"

#include <cerrno>
#include <csignal>
#include <stdexcept>

#include <fcntl.h>
#include <unistd.h>

namespace convscope::cli {

namespace {

volatile std::sig_atomic_t g_writeEnd = -1;

constexpr char kInterrupted = 'i';
constexpr char kStop = 's';

extern "C" void onSigint(int) {
    const int savedErrno = errno;
    const char byte = kInterrupted;
    if (g_writeEnd >= 0) {
        const ssize_t written = write(g_writeEnd, &byte, 1);
        (void)written;  // nothing a signal handler could do about a full pipe
    }
    errno = savedErrno;
}

}  // namespace

InterruptWatcher::InterruptWatcher(std::function<void()> onInterrupt)
    : m_onInterrupt(std::move(onInterrupt)) {
    if (pipe2(m_pipe, O_CLOEXEC) != 0)
        throw std::runtime_error("cannot create the Ctrl-C pipe");
    g_writeEnd = m_pipe[1];
    m_thread = std::thread([this] {
        char byte = 0;
        for (;;) {
            const ssize_t n = read(m_pipe[0], &byte, 1);
            if (n < 0 && errno == EINTR)
                continue;
            if (n != 1 || byte == kStop)
                return;
            std::signal(SIGINT, SIG_DFL);
            m_onInterrupt();
        }
    });
    std::signal(SIGINT, onSigint);
}

InterruptWatcher::~InterruptWatcher() {
    std::signal(SIGINT, SIG_DFL);
    g_writeEnd = -1;
    const char byte = kStop;
    [[maybe_unused]] const auto n = write(m_pipe[1], &byte, 1);
    m_thread.join();
    close(m_pipe[0]);
    close(m_pipe[1]);
}

}  // namespace convscope::cli
