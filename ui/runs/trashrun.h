#pragma once

#include <QString>
#include <QUndoCommand>

#include <functional>

namespace convscope::ui {

/// Moves a run folder to the desktop's trash (the freedesktop.org trash on Linux).
/// Returns where it went, or an empty string when it cannot be moved (then `error` says why).
QString moveRunToTrash(const QString& runDir, QString* error);

/// A run folder that was moved to the trash, on the undo stack: undo puts it back where it was
/// and drops its trash record; redo moves it to the trash again. What fails is handed to
/// `onError`.
class TrashRunCommand : public QUndoCommand {
public:
    TrashRunCommand(const QString& runDir, const QString& name, const QString& trashedPath,
                    std::function<void(const QString&)> onError);

    void redo() override;  ///< nothing the first time: the folder is already in the trash
    void undo() override;

    /// Where the folder is in the trash while it is there.
    QString trashedPath() const { return m_trashed; }

private:
    QString m_runDir;
    QString m_trashed;
    std::function<void(const QString&)> m_onError;
};

}  // namespace convscope::ui
