#pragma once

#include "train/runcatalog.h"
#include "ui/engine/inspection.h"

#include <QFileSystemWatcher>
#include <QPointer>
#include <QTimer>
#include <QUndoStack>
#include <QWidget>

#include <vector>

class QLabel;
class QLineEdit;
class QPushButton;
class QSortFilterProxyModel;
class QTableView;
class QToolButton;

namespace convscope::ui {

class CompareDialog;
class EngineBridge;
class RunsModel;

/// The Runs dock: every run in the workspace folder with its status and results, sortable and
/// filterable. The list is read on the jobs thread and read again, after a short debounce,
/// when the workspace or a run folder in it changes on disk (a run started from the command
/// line appears and its status follows). Double-click opens a run's weights; Resume continues
/// an interrupted one; Report… writes its report (HTML or PDF); Delete moves it to the trash,
/// with undo (the Undo button, Ctrl+Z in the dock, and Edit > Undo).
class RunsPanel : public QWidget {
    Q_OBJECT
public:
    explicit RunsPanel(EngineBridge* bridge, QWidget* parent = nullptr);
    ~RunsPanel() override;

    /// Lists and watches `folder` (made if missing).
    void setWorkspace(const QString& folder);
    QString workspace() const { return m_workspace; }
    /// Reads the workspace again now.
    void refresh();

    RunsModel* model() const { return m_model; }
    QTableView* view() const { return m_view; }
    void setFilter(const QString& text);
    /// The selected run's folder (the first when several are), or an empty string.
    QString selectedRun() const;
    /// The run folders shown, top to bottom.
    QStringList shownRuns() const;
    /// Selects the runs shown at these rows (scripts and tests), replacing the selection.
    void selectRows(const QList<int>& rows);
    /// Opens the comparison of the selected runs (two or more) once it is read.
    void compareSelected();
    /// Names the run and gives it a note; the list shows them once run.json is written.
    void labelRun(const QString& runDir, const QString& name, const QString& note);
    /// Moves the run folder to the trash (undoable). A running run is refused.
    void trashRun(const QString& runDir);
    QUndoStack* undoStack() const { return m_undo; }
    /// Writes the run's report to `outPath`: a self-contained .html page, or a .pdf.
    void exportReport(const QString& runDir, const QString& outPath);
    /// Asks where, then exports the selected run's report (or `runDir` when given).
    void chooseReportFile(const QString& runDir = {});

Q_SIGNALS:
    /// Double-click or Open: classify and inspect with this run's weights.
    void runActivated(const QString& runDir);
    void resumeRequested(const QString& runDir);
    /// The list was read again (tests and the window's status line).
    void listed(int runs);
    /// A comparison window opened.
    void comparisonShown(convscope::ui::CompareDialog* dialog);
    /// The folder of runs shown changed (new runs from the window go there too).
    void workspaceChanged(const QString& folder);
    /// A report was written.
    void reportExported(const QString& path);
    /// What the user asked for could not be done (the window shows it).
    void failed(const QString& what, const QString& message, convscope::ui::Origin origin);
    /// A line for the status bar.
    void message(const QString& text);

private:
    void onListed(const QString& workspace, const std::vector<convscope::RunSummary>& runs);
    QStringList selectedRuns() const;
    std::vector<const convscope::RunSummary*> selectedSummaries() const;
    /// The run shown at `row` of the (sorted, filtered) table.
    const convscope::RunSummary& runAtRow(int row) const;

    EngineBridge* m_bridge;
    QString m_workspace;
    RunsModel* m_model;
    QSortFilterProxyModel* m_proxy;
    QTableView* m_view;
    QLabel* m_where;
    QLineEdit* m_filter;
    QPushButton* m_open;
    QPushButton* m_resume;
    QPushButton* m_compare;
    QPushButton* m_label;
    QPushButton* m_report;
    QPushButton* m_delete;
    QToolButton* m_undoButton;
    QUndoStack* m_undo;
    /// The comparison window open now, if any: it follows its runs as they train on.
    QPointer<CompareDialog> m_comparison;
    bool m_comparisonAsked = false;  ///< the next answer opens a new window
    QFileSystemWatcher m_watcher;
    QTimer m_debounce;
};

}  // namespace convscope::ui
