#pragma once

#include <QString>

class QWidget;

namespace convscope::ui {

/// "Show me": brings a control of the window into view wherever it sits (shows and raises
/// its dock, switches the tabs above it, scrolls it into view), gives it the keyboard focus
/// and frames it for a moment (FocusHighlight).
class ShowMe {
public:
    /// The widget named `objectName` under `root`, or nullptr.
    static QWidget* find(QWidget* root, const QString& objectName);
    /// Brings `target` forward; false when it cannot be shown (a null target).
    static bool reveal(QWidget* target);
    /// Whether some of `widget` is on screen: visible, and not clipped away by its parents
    /// (Qt moves a dock that is not the current one of its tab group off-screen).
    static bool isShown(const QWidget* widget);
};

}  // namespace convscope::ui
