#include "cli/launcher.h"

#include "cli/args.h"

#include "error.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <thread>

extern char** environ;

namespace convscope::cli {

namespace {

volatile std::sig_atomic_t g_signal = 0;

extern "C" void onStopSignal(int signal) {
    g_signal = signal;
}

int freeLocalPort() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0)
        throw Error("--master-port", "no free port on this machine");
    ::close(fd);
    return ntohs(address.sin_port);
}

std::string exitText(int status) {
    if (WIFSIGNALED(status))
        return "was killed by signal " + std::to_string(WTERMSIG(status)) + " (" +
               strsignal(WTERMSIG(status)) + ")";
    return "exited with code " + std::to_string(WEXITSTATUS(status));
}

struct Worker {
    int rank = 0;
    pid_t pid = 0;
    bool running = true;
};

}  // namespace

int launchWorkers(const std::vector<std::string>& command, const LaunchOptions& o) {
    if (o.nodes > 1 && (o.masterAddress.empty() || o.masterPort == 0))
        throw UsageError(
            "several nodes need --master-addr HOST and --master-port PORT, the same "
            "on every node (rank 0 listens there)");
    const std::string address = o.masterAddress.empty() ? "127.0.0.1" : o.masterAddress;
    const int port = o.masterPort ? o.masterPort : freeLocalPort();
    const int world = o.nodes * o.processesPerNode;
    std::vector<std::string> args{"/proc/self/exe"};
    args.insert(args.end(), command.begin(), command.end());
    std::vector<char*> argv;
    for (std::string& a : args)
        argv.push_back(a.data());
    argv.push_back(nullptr);

    std::signal(SIGINT, onStopSignal);
    std::signal(SIGTERM, onStopSignal);
    std::vector<Worker> workers;
    for (int local = 0; local < o.processesPerNode; ++local) {
        const int rank = o.nodeRank * o.processesPerNode + local;
        std::vector<std::string> env;
        for (char** e = environ; *e; ++e)
            env.emplace_back(*e);
        env.push_back("RANK=" + std::to_string(rank));
        env.push_back("LOCAL_RANK=" + std::to_string(local));
        env.push_back("WORLD_SIZE=" + std::to_string(world));
        env.push_back("LOCAL_WORLD_SIZE=" + std::to_string(o.processesPerNode));
        env.push_back("MASTER_ADDR=" + address);
        env.push_back("MASTER_PORT=" + std::to_string(port));
        env.push_back("CONVSCOPE_DIST_TIMEOUT=" + std::to_string(o.timeoutSeconds));
        std::vector<char*> envp;
        for (std::string& e : env)
            envp.push_back(e.data());
        envp.push_back(nullptr);
        // Each worker in its own process group: a Ctrl-C at the terminal reaches the launcher
        // alone, which passes it on once (a second SIGINT would make a worker quit at once).
        posix_spawnattr_t attributes;
        posix_spawnattr_init(&attributes);
        posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP);
        posix_spawnattr_setpgroup(&attributes, 0);
        pid_t pid = 0;
        const int failure =
            ::posix_spawn(&pid, argv[0], nullptr, &attributes, argv.data(), envp.data());
        posix_spawnattr_destroy(&attributes);
        if (failure != 0)
            throw Error("launcher", "cannot start rank " + std::to_string(rank) + ": " +
                                        std::strerror(failure));
        workers.push_back({rank, pid, true});
    }
    std::fprintf(stderr, "Started %d processes (ranks %d-%d of %d), rank 0 at %s:%d\n",
                 o.processesPerNode, workers.front().rank, workers.back().rank, world,
                 address.c_str(), port);

    using Clock = std::chrono::steady_clock;
    bool interrupted = false;
    bool cancelled = false;  // a worker stopped with 130: a cancel every rank agreed on
    const std::string who = "convscope " + command.front();
    // Failed workers, in the order seen. The first failure is reported a moment later, so that
    // a rank killed by a signal is named as the cause rather than a rank that then lost it.
    std::vector<std::pair<const Worker*, int>> failures;
    std::size_t reported = 0;
    Clock::time_point reportAt, deadline;
    bool waiting = false;  // for the others to stop, once one failed, until `deadline`
    int left = int(workers.size());
    while (left > 0 || reported < failures.size()) {
        if (g_signal) {
            const int signal = g_signal;
            g_signal = 0;
            interrupted = true;
            for (const Worker& w : workers)
                if (w.running)
                    ::kill(w.pid, signal);
        }
        for (Worker& w : workers) {
            if (!w.running)
                continue;
            int status = 0;
            if (::waitpid(w.pid, &status, WNOHANG) != w.pid)
                continue;
            w.running = false;
            --left;
            if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                continue;
            if (WIFEXITED(status) && WEXITSTATUS(status) == 130 && failures.empty()) {
                cancelled = true;  // asked through control.json, or a Ctrl-C on one node
                continue;
            }
            if (failures.empty()) {
                reportAt = Clock::now() + std::chrono::milliseconds(1000);
                deadline = Clock::now() + std::chrono::seconds(o.timeoutSeconds);
                waiting = true;
            }
            failures.emplace_back(&w, status);
        }
        if (reported < failures.size() && (Clock::now() > reportAt || left == 0)) {
            if (reported == 0)
                std::stable_partition(failures.begin(), failures.end(),
                                      [](const auto& f) { return WIFSIGNALED(f.second); });
            for (; reported < failures.size(); ++reported) {
                const auto& [w, status] = failures[reported];
                if (interrupted)
                    continue;
                std::fprintf(stderr, "%s: rank %d (process %d) %s%s\n", who.c_str(), w->rank,
                             int(w->pid), exitText(status).c_str(),
                             reported == 0 ? ("; the other ranks stop (within " +
                                              std::to_string(o.timeoutSeconds) + " s)")
                                                 .c_str()
                                           : "");
            }
        }
        if (waiting && Clock::now() > deadline) {
            for (const Worker& w : workers)
                if (w.running) {
                    std::fprintf(stderr, "%s: rank %d (process %d) did not stop; killing it\n",
                                 who.c_str(), w.rank, int(w.pid));
                    ::kill(w.pid, SIGKILL);
                }
            waiting = false;
        }
        if (left > 0 || reported < failures.size())
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    const bool failed = !failures.empty();
    std::signal(SIGINT, SIG_DFL);
    std::signal(SIGTERM, SIG_DFL);
    if (interrupted || (cancelled && !failed))
        return 130;
    return failed ? 1 : 0;
}

}  // namespace convscope::cli
