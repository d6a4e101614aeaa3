#pragma once

#include "train/runcatalog.h"
#include "train/runcontrol.h"
#include "train/trainingobserver.h"

#include <QMetaType>
#include <QString>

#include <vector>

namespace convscope::ui {

/// A run opened from the Runs dock, as read again after each change on disk: its summary (who
/// trains it, its status) and its epochs, for the Training tab's charts.
struct FollowedRun {
    convscope::RunSummary summary;
    std::vector<convscope::RunEpoch> history;
};

/// The run's epochs as the Training tab's charts take them.
std::vector<convscope::EpochEnd> followedEpochs(const FollowedRun& run);

/// One line for the Training tab: "Run “delta”: running, 1 of 4 epochs, trained by process N
/// on HOST; 2 data-parallel processes at 3199, 3161 images/s (the charts follow it)."
/// A damaged, failed or interrupted run's line says why; a run whose folder has gone says so.
QString followedRunStatus(const convscope::RunSummary& summary);

/// Asks a run another process trains to pause, go on or stop (its control.json, which rank 0
/// of a data-parallel run reads and tells the others). Returns the line for the Training tab:
/// what was asked, or why it could not be.
QString askFollowedRun(const QString& runDir, convscope::RunRequest request);

}  // namespace convscope::ui

Q_DECLARE_METATYPE(convscope::ui::FollowedRun)
