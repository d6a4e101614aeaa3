#pragma once

#include "augment/augmentparams.h"
#include "cli/args.h"

#include <set>
#include <string>

namespace convscope::cli {

/// Option and flag names of the augmentation parameters (Keras's names, with hyphens).
const std::set<std::string>& augmentOptionNames();
const std::set<std::string>& augmentFlagNames();

AugmentParams augmentParamsFromArgs(const Args& args);

}  // namespace convscope::cli
