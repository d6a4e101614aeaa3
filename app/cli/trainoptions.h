#pragma once

#include "cli/args.h"

#include "dist/distsetup.h"
#include "train/trainconfig.h"

#include <optional>
#include <set>
#include <string>
#include <vector>

namespace convscope::cli {

/// The training settings of `train` and `finetune`: one data folder, --out and the options of
/// trainOptionNames() / trainFlagNames(). Throws UsageError for a bad command line.
TrainConfig trainConfigFromArgs(const Args& args);
/// --batch: a positive number, or "auto" (0: the trainer picks the largest that fits).
int batchSizeFromArgs(const Args& args, int fallback);
/// The persistent decoded-image cache's folder, or "" with --no-disk-cache.
std::string decodedStoreFromArgs(const Args& args);
std::set<std::string> trainOptionNames();

/// `COMMAND ... --nproc-per-node N [--nnodes ...]`: starts this node's workers, each running
/// the command without the launch options, on one run folder (chosen here when --out is not
/// given). Returns the exit status.
int launchDataParallel(const std::string& command, const std::vector<std::string>& argv,
                       const Args& args);
/// In a data-parallel worker (RANK, WORLD_SIZE, ... set by the launcher, torchrun or SLURM):
/// its place in the group, put into `config` with --dist-timeout, and the machine's cores
/// shared among its processes. Nothing in a process of its own.
std::optional<DistributedSetup> joinDataParallel(const Args& args, TrainConfig& config);
std::set<std::string> trainFlagNames();

}  // namespace convscope::cli
