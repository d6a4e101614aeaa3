#pragma once

#include "train/trainconfig.h"
#include "train/trainingobserver.h"

#include <string>
#include <vector>

namespace convscope {

/// The rules of a run folder: what it records and what is checked before anything in it is
/// written. Each throws convscope::Error naming the file or setting.

/// history.csv's text: one row per epoch; a last column "phase" when any epoch has one.
std::string historyCsv(const std::vector<EpochEnd>& history);

/// A run's config.json, with the folder taken from where it is now (a run folder may be
/// moved). Runs before 0.2 recorded paths relative to where training started: that folder is
/// recovered from the recorded run folder, and the data folder resolved from it.
TrainConfig readRunConfig(const std::string& runDir);

/// Settles what a new run's starting weights decide, before config.json records it: a Keras
/// backbone's flavour (its layer names) and preprocessing, any other file's preprocessing.
/// A Keras backbone of another architecture than `config`'s is refused. No-op without
/// starting weights.
void adoptStartingWeights(TrainConfig& config);

/// Builds the network once, small: an input size too small for the architecture or a
/// freeze-up-to layer it does not have fails here, before the run folder is made.
void checkModelSettings(const TrainConfig& config);

/// A resumed run must see the classes it started with (import-report.json); a folder added
/// or removed is refused, naming both lists.
void checkSameClasses(const std::string& runDir, const std::string& dataDir,
                      const std::vector<std::string>& classNames);

}  // namespace convscope
