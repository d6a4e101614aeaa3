#pragma once

// Where one process of a data-parallel run stands: plain values, free of LibTorch, read from
// the variables torchrun, SLURM scripts and Kubernetes operators set.

#include <optional>
#include <string>

namespace convscope {

/// One worker of a data-parallel run.
struct DistributedSetup {
    int rank = 0;            ///< RANK: 0 .. worldSize - 1; rank 0 writes the run folder
    int worldSize = 1;       ///< WORLD_SIZE: processes in all
    int localRank = 0;       ///< LOCAL_RANK: this process on its machine (its GPU, when on GPUs)
    int localWorldSize = 1;  ///< LOCAL_WORLD_SIZE: processes on this machine
    std::string masterAddress = "127.0.0.1";  ///< MASTER_ADDR: where rank 0 listens
    int masterPort = 29500;                   ///< MASTER_PORT
    /// How long a collective, or the rendezvous, may wait for another rank before every rank
    /// stops with an error (CONVSCOPE_DIST_TIMEOUT, --dist-timeout).
    int timeoutSeconds = 60;
    /// The GPU this rank trains on (cuda:LOCAL_RANK; the group then reduces on it with
    /// NCCL), or -1 on CPUs (Gloo). Set by the trainer once the device is settled.
    int gpu = -1;
    /// Started as a worker (RANK and WORLD_SIZE set): in a group, though it may be a group
    /// of one (torchrun --nproc-per-node 1, as PyTorch's DDP allows).
    bool worker = false;

    bool distributed() const { return worker || worldSize > 1; }
    bool writes() const { return rank == 0; }
};

/// The setup the environment gives: nothing when RANK and WORLD_SIZE are not both set. Throws
/// convscope::Error naming the variable for a value that does not fit (a rank outside the world, a
/// port outside 1..65535, text where a number belongs).
std::optional<DistributedSetup> distributedSetupFromEnvironment();

}  // namespace convscope
