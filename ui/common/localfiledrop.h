#pragma once

// Dropping a file or folder from the desktop onto a widget: the one rule every drop target
// follows (local files only; the first one counts).

#include <QString>

class QDragEnterEvent;
class QDropEvent;

namespace convscope::ui {

/// Accepts a drag that carries at least one local file or folder; ignores any other.
void acceptLocalFileDrag(QDragEnterEvent* event);

/// The first local file or folder that `event` carries, accepting the drop; empty (and the
/// drop left alone) when it carries none.
QString takeDroppedLocalPath(QDropEvent* event);

}  // namespace convscope::ui
