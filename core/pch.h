// Precompiled for the core sources that use LibTorch (~40 s per file without it).
#pragma once

#include <torch/torch.h>
