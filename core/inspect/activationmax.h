#pragma once

// Internal to core: gradient ascent on the input for a batch of filters of one layer.

#include "inspect/inspector.h"

#include <optional>
#include <vector>

namespace convscope {

struct Preprocessing;

/// Maximises the mean activation of each of `filters` of `layer`, one picture each, in one
/// batch. The gradient comes from `objectiveLayer`: the layer's pre-activation where the model
/// reports one (a filter that the grey start leaves at ReLU's zero would get no gradient
/// otherwise), else the layer itself; the activations reported are the layer's own (every filter
/// starts from its own seeded noise, so batching changes nothing). `size` is the picture size;
/// octaves are used only when `octavesAllowed`. Progress counts steps from `doneBefore` out of
/// `total`. Returns nothing when cancelled.
std::optional<std::vector<FilterPicture>> maximizeFilters(
    ClassifierImpl& model, const Preprocessing& preprocessing, const std::string& layer,
    const std::string& objectiveLayer, const std::vector<int>& filters,
    const MaximizeOptions& options, int size, bool octavesAllowed, const std::atomic<bool>* cancel,
    const InspectProgress& progress, int doneBefore, int total);

/// Steps a maximisation of these options takes per filter batch (for progress totals).
int maximizeSteps(const MaximizeOptions& options, bool octavesAllowed);

}  // namespace convscope
