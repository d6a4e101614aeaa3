#pragma once

#include "dist/distsetup.h"

#include <torch/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace convscope {

/// One process's part in data-parallel training on LibTorch's own distributed engine (c10d):
/// a TCPStore rendezvous at MASTER_ADDR:MASTER_PORT, a process group between the processes
/// (Gloo for CPU tensors; NCCL for tensors on the GPUs when setup.gpu names this rank's GPU),
/// and DDP's C++ Reducer, which averages gradients by bucketed allreduce started
/// from autograd hooks while backward runs. Batch norm is per rank: each normalises with its
/// own batch, and the running statistics are rank 0's, broadcast before every step, as
/// PyTorch's DistributedDataParallel does by default (SyncBatchNorm has no C++ form).
/// Not thread-safe: the training thread alone calls it. Every method is a collective: every
/// rank calls it in the same order. Errors (a rank lost, the timeout passed, the master not
/// reachable) are convscope::Error naming the rank and the cause.
class DataParallel {
public:
    /// Joins the group: waits up to setup.timeoutSeconds for every rank. Throws
    /// convscope::Error for a master that cannot be reached, a port in use, or ranks that
    /// disagree on the world size.
    explicit DataParallel(const DistributedSetup& setup);
    ~DataParallel();
    DataParallel(const DataParallel&) = delete;
    DataParallel& operator=(const DataParallel&) = delete;

    const DistributedSetup& setup() const;

    /// Makes every rank's `parameters` and `buffers` rank 0's, then reduces the gradients of
    /// the parameters that require them from now on.
    void attach(const std::vector<torch::Tensor>& parameters,
                const std::vector<torch::Tensor>& buffers);
    /// Before each forward pass of a training step: buffers from rank 0.
    void beforeForward();
    /// Between the loss and its backward pass: arms the gradient reduction.
    void beforeBackward();

    /// Element-wise sums over the ranks (metrics, counts).
    std::vector<double> sum(const std::vector<double>& values);
    /// Sums a CPU tensor over the ranks in place (every rank gets the total).
    void sumInPlace(torch::Tensor& values);
    /// Whether any rank says yes (stop after this batch, on every rank at once).
    bool any(bool mine);
    /// Waits for every rank.
    void barrier();

    /// For a LibTorch error that a collective outside these methods raised (the gradient
    /// allreduce runs inside backward): throws convscope::Error saying that the group broke,
    /// during what, and why.
    [[noreturn]] void broken(const std::string& during, const std::string& reason) const;

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

/// Whether this build can train data-parallel (Gloo's headers were found when it was built).
bool dataParallelAvailable();
/// Whether it can train data-parallel on GPUs: NCCL, in LibTorch's CUDA libraries, which the
/// CUDA module loads (cuda/cudamodule.h) and which it was built with nccl.h for.
bool dataParallelOnGpusAvailable();

}  // namespace convscope
