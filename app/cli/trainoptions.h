#pragma once

#include "cli/args.h"

#include "train/trainconfig.h"

#include <set>
#include <string>

namespace convscope::cli {

/// The training settings of `train` and `finetune`: one data folder, --out and the options of
/// trainOptionNames() / trainFlagNames(). Throws UsageError for a bad command line.
TrainConfig trainConfigFromArgs(const Args& args);
/// --batch: a positive number, or "auto" (0: the trainer picks the largest that fits).
int batchSizeFromArgs(const Args& args, int fallback);
/// The persistent decoded-image cache's folder, or "" with --no-disk-cache.
std::string decodedStoreFromArgs(const Args& args);
std::set<std::string> trainOptionNames();
std::set<std::string> trainFlagNames();

}  // namespace convscope::cli
