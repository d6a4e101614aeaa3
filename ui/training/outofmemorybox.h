#pragma once

#include <QString>

#include <functional>

class QWidget;

namespace convscope::ui {

/// After a run stopped for lack of memory: a warning with `message` and a "Resume with batch
/// N" button that calls `resume` (object name "outOfMemoryBox"; it deletes itself on close).
void offerSmallerBatch(QWidget* parent, const QString& message, int largestBatch,
                       std::function<void()> resume);

}  // namespace convscope::ui
