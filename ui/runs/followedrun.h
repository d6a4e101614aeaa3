#pragma once

#include "train/runcatalog.h"

#include <QMetaType>

#include <vector>

namespace convscope::ui {

/// A run opened from the Runs dock, as read again after each change on disk: its summary (who
/// trains it, its status) and its epochs, for the Training tab's charts.
struct FollowedRun {
    convscope::RunSummary summary;
    std::vector<convscope::RunEpoch> history;
};

}  // namespace convscope::ui

Q_DECLARE_METATYPE(convscope::ui::FollowedRun)
