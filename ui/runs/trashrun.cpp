#include "ui/runs/trashrun.h"

#include <QCoreApplication>
#include <QDir>
#include <QFile>
#include <QFileInfo>

namespace convscope::ui {

QString moveRunToTrash(const QString& runDir, QString* error) {
    QString trashed;
    if (!QFile::moveToTrash(runDir, &trashed)) {
        *error = QCoreApplication::translate("TrashRunCommand",
                                             "%1: cannot be moved to the trash (no trash folder "
                                             "for its drive, or no permission)")
                     .arg(QDir::toNativeSeparators(runDir));
        return {};
    }
    return trashed;
}

TrashRunCommand::TrashRunCommand(const QString& runDir, const QString& name,
                                 const QString& trashedPath,
                                 std::function<void(const QString&)> onError)
    : m_runDir(QDir(runDir).absolutePath()), m_trashed(trashedPath), m_onError(std::move(onError)) {
    setText(QCoreApplication::translate("TrashRunCommand", "Delete run “%1”").arg(name));
}

void TrashRunCommand::redo() {
    if (!m_trashed.isEmpty())
        return;
    QString error;
    m_trashed = moveRunToTrash(m_runDir, &error);
    if (m_trashed.isEmpty())
        m_onError(error);
}

void TrashRunCommand::undo() {
    if (m_trashed.isEmpty())
        return;
    if (QFileInfo::exists(m_runDir) || !QDir().rename(m_trashed, m_runDir)) {
        m_onError(
            QCoreApplication::translate("TrashRunCommand",
                                        "%1: cannot be put back (%2 is taken, or the "
                                        "trash was emptied)")
                .arg(QDir::toNativeSeparators(m_trashed), QDir::toNativeSeparators(m_runDir)));
        return;
    }
    // The trash keeps a record of each item beside its files folder: info/<name>.trashinfo.
    const QFileInfo in(m_trashed);
    QFile::remove(in.dir().filePath(QStringLiteral("../info/%1.trashinfo").arg(in.fileName())));
    m_trashed.clear();
}

}  // namespace convscope::ui
