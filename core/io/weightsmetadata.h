#pragma once

// What weight files say and what loading them did: plain structs, free of LibTorch, for
// front ends (the window includes this through inspect/predictor.h and inspect/inspector.h).

#include "models/modelconfig.h"
#include "models/preprocessing.h"

#include <optional>
#include <string>
#include <vector>

namespace convscope {

/// What a weight file says about the model it belongs to (ConvScope's root attributes).
struct WeightsMetadata {
    ModelConfig model;
    std::vector<std::string> classNames;
    Preprocessing preprocessing;
};

/// What loading a weight file did, layer by layer.
struct LoadReport {
    std::vector<std::string> loaded;      ///< layers whose weights were set
    std::vector<std::string> notInModel;  ///< layers in the file the model lacks (skipped)
    std::vector<std::string> notInFile;   ///< model layers with weights the file lacks
    /// Head layers left as initialised because their shapes differ from the file's (another
    /// class count or head), by their first differing tensor:
    /// "fc.weight: file (1000, 512), model (5, 512)".
    std::vector<std::string> mismatched;
    /// How the file was read where it was not plain, in words: layers matched in order for
    /// want of matching names, Theano kernels (io/kernellayout.h), a layout left to guess.
    std::vector<std::string> notes;
    std::optional<WeightsMetadata> metadata;  ///< when the file carries ConvScope metadata
};

/// One line per kind of outcome, for the CLI and the UI.
std::string describe(const LoadReport& report);

}  // namespace convscope
