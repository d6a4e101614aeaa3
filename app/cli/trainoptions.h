#pragma once

#include "cli/args.h"

#include "train/trainconfig.h"

#include <set>
#include <string>

namespace convscope::cli {

/// The training settings of `train` and `finetune`: one data folder, --out and the options of
/// trainOptionNames() / trainFlagNames(). Throws UsageError for a bad command line.
TrainConfig trainConfigFromArgs(const Args& args);
std::set<std::string> trainOptionNames();
std::set<std::string> trainFlagNames();

}  // namespace convscope::cli
