#pragma once

#include <string>
#include <vector>

namespace convscope::cli {

/// How `train --nproc-per-node N` starts its workers, as torchrun does.
struct LaunchOptions {
    int processesPerNode = 1;
    int nodes = 1;
    int nodeRank = 0;
    std::string masterAddress;  ///< empty: 127.0.0.1 (one node only)
    int masterPort = 0;         ///< 0: a free port on this machine (one node only)
    int timeoutSeconds = 60;
};

/// Starts this program's `command` (the arguments after the program name) N times with RANK,
/// LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT and
/// CONVSCOPE_DIST_TIMEOUT set, and waits for them. Ctrl-C (SIGINT) and SIGTERM are passed on
/// to every worker. When a worker fails (a non-zero exit or a signal) it says which rank and
/// why on stderr, and stops the others after the timeout if they have not stopped by then.
/// Returns 0 when every worker succeeded, 130 when interrupted or when the ranks agreed to stop
/// (a cancel asked through control.json), else 1.
int launchWorkers(const std::vector<std::string>& command, const LaunchOptions& options);

}  // namespace convscope::cli
