#pragma once

#include <QString>

namespace convscope::ui {

/// Where the window keeps the runs it trains when the user names no folder:
/// <XDG data home>/convscope/runs, ~/.local/share/convscope/runs by default. It does not
/// depend on the application's organisation or name, so tests and the installed program agree.
QString runsFolder();

}  // namespace convscope::ui
