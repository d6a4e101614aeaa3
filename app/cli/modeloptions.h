#pragma once

#include "io/modelweights.h"

#include <optional>
#include <set>
#include <string>

namespace convscope::cli {

class Args;

/// Options that describe a model whose weight file lacks ConvScope metadata.
extern const std::set<std::string> kModelOptions;

/// For weight files without ConvScope metadata: --arch, --size, --classes a,b,c [--head].
std::optional<WeightsMetadata> fallbackMetadata(const Args& args);

}  // namespace convscope::cli
