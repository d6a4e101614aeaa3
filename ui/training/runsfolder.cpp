#include "ui/training/runsfolder.h"

#include <QDir>
#include <QStandardPaths>

namespace convscope::ui {

QString runsFolder() {
    const QString dataHome = QStandardPaths::writableLocation(QStandardPaths::GenericDataLocation);
    return QDir(dataHome).filePath(QStringLiteral("convscope/runs"));
}

}  // namespace convscope::ui
