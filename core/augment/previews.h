#pragma once

#include "augment/augmentparams.h"
#include "data/rgbimage.h"

#include <cstdint>
#include <vector>

namespace convscope {

/// `count` augmented variants of `source`, variant i drawn from mixSeed(seed, i), so the
/// same seed gives the same grid and changing one parameter keeps the others' draws.
/// Plain types only, for front ends. Thread-safe.
std::vector<RgbImage> augmentPreviews(const RgbImage& source, const AugmentParams& params,
                                      int count, std::uint64_t seed);

}  // namespace convscope
