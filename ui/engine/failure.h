#pragma once

#include "util/buglog.h"

#include <QString>

namespace convscope::ui {

/// What to show for the exception being handled in a worker (call inside a catch block):
/// convscope::Error's message; anything else is a bug, written to a report whose path the
/// message gives (util/buglog.h).
inline QString currentFailure(const QString& action) {
    return QString::fromStdString(describeCurrentException(action.toStdString()));
}

}  // namespace convscope::ui
