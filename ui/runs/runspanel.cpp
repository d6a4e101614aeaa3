#include "ui/runs/runspanel.h"

#include "ui/engine/enginebridge.h"
#include "ui/runs/comparedialog.h"
#include "ui/runs/reportpdf.h"
#include "ui/runs/runsmodel.h"
#include "ui/runs/trashrun.h"

#include <QAction>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QInputDialog>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSortFilterProxyModel>
#include <QTableView>
#include <QToolButton>
#include <QVBoxLayout>

namespace convscope::ui {

RunsPanel::RunsPanel(EngineBridge* bridge, QWidget* parent)
    : QWidget(parent),
      m_bridge(bridge),
      m_model(new RunsModel(this)),
      m_proxy(new QSortFilterProxyModel(this)),
      m_view(new QTableView),
      m_where(new QLabel),
      m_filter(new QLineEdit),
      m_open(new QPushButton(tr("Open"))),
      m_resume(new QPushButton(tr("Resume"))),
      m_compare(new QPushButton(tr("Compare"))),
      m_label(new QPushButton(tr("Rename…"))),
      m_report(new QPushButton(tr("Report…"))),
      m_delete(new QPushButton(tr("Delete"))),
      m_undoButton(new QToolButton),
      m_undo(new QUndoStack(this)) {
    m_proxy->setSourceModel(m_model);
    m_proxy->setSortRole(Qt::UserRole);
    m_proxy->setFilterKeyColumn(-1);  // any column
    m_proxy->setFilterCaseSensitivity(Qt::CaseInsensitive);
    m_view->setModel(m_proxy);
    m_view->setSortingEnabled(true);
    m_view->sortByColumn(RunsModel::Started, Qt::DescendingOrder);
    m_view->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_view->setSelectionMode(QAbstractItemView::ExtendedSelection);
    m_view->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_view->verticalHeader()->hide();
    m_view->verticalHeader()->setDefaultSectionSize(22);
    m_view->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    m_view->horizontalHeader()->setStretchLastSection(true);
    m_filter->setPlaceholderText(tr("Filter (name, status, architecture, data…)"));
    m_filter->setClearButtonEnabled(true);
    m_where->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_open->setToolTip(tr("Classify and inspect with this run's weights"));
    m_resume->setToolTip(tr("Continue this run from its last checkpoint"));
    auto* change = new QPushButton(tr("Change…"));
    change->setToolTip(tr("Choose another folder of runs"));

    auto* top = new QHBoxLayout;
    top->addWidget(m_where, 1);
    top->addWidget(change);
    auto* bottom = new QHBoxLayout;
    bottom->addWidget(m_filter, 1);
    bottom->addWidget(m_open);
    bottom->addWidget(m_resume);
    bottom->addWidget(m_compare);
    bottom->addWidget(m_label);
    bottom->addWidget(m_report);
    bottom->addWidget(m_delete);
    bottom->addWidget(m_undoButton);
    m_report->setToolTip(
        tr("Write the run's report: settings, data, curves, confusion matrix, "
           "misclassified images and activation maps, as one HTML page or a "
           "PDF"));
    m_delete->setToolTip(tr("Move the run's folder to the trash (Undo puts it back)"));
    // Undo: a button in the dock.
    // (Ctrl+Z is the window's Edit > Undo, made from the same stack.)
    QAction* undo = m_undo->createUndoAction(this, tr("Undo"));
    m_undoButton->setDefaultAction(undo);
    m_undoButton->setToolButtonStyle(Qt::ToolButtonTextOnly);
    connect(m_undo, &QUndoStack::indexChanged, this, [this] { refresh(); });
    m_label->setToolTip(tr("Give the selected run a name and a note (kept in its run.json)"));
    m_compare->setToolTip(
        tr("Select two or more runs (Ctrl+click) to overlay their curves and "
           "list the settings that differ"));
    for (QPushButton* needsASelection : {m_open, m_resume, m_compare, m_label, m_report, m_delete})
        needsASelection->setEnabled(false);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    layout->addLayout(top);
    layout->addWidget(m_view, 1);
    layout->addLayout(bottom);

    // Training rewrites files several times per epoch: one listing at most every 300 ms. The
    // timer is not restarted by later changes, or a run whose epochs take less than that
    // would never be listed again while it trains.
    m_debounce.setSingleShot(true);
    m_debounce.setInterval(300);
    connect(&m_debounce, &QTimer::timeout, this, &RunsPanel::refresh);
    connect(&m_watcher, &QFileSystemWatcher::directoryChanged, this, [this] {
        if (!m_debounce.isActive())
            m_debounce.start();
    });
    connect(m_bridge, &EngineBridge::runsListed, this, &RunsPanel::onListed);
    connect(m_filter, &QLineEdit::textChanged, this, &RunsPanel::setFilter);
    connect(change, &QPushButton::clicked, this, [this] {
        const QString folder =
            QFileDialog::getExistingDirectory(this, tr("Folder of runs"), m_workspace);
        if (!folder.isEmpty())
            setWorkspace(folder);
    });
    connect(m_view, &QTableView::doubleClicked, this, [this] {
        if (const QString run = selectedRun(); !run.isEmpty())
            Q_EMIT runActivated(run);
    });
    connect(m_open, &QPushButton::clicked, this, [this] {
        if (const QString run = selectedRun(); !run.isEmpty())
            Q_EMIT runActivated(run);
    });
    connect(m_compare, &QPushButton::clicked, this, &RunsPanel::compareSelected);
    connect(m_label, &QPushButton::clicked, this, [this] {
        const std::vector<const RunSummary*> selected = selectedSummaries();
        if (selected.size() != 1)
            return;
        const RunSummary& r = *selected.front();
        bool ok = false;
        const QString name =
            QInputDialog::getText(this, tr("Rename run"), tr("Name:"), QLineEdit::Normal,
                                  QString::fromStdString(r.name), &ok);
        if (!ok)
            return;
        const QString note = QInputDialog::getMultiLineText(
            this, tr("Note"), tr("Note for %1:").arg(name), QString::fromStdString(r.note), &ok);
        if (ok)
            labelRun(QString::fromStdString(r.path), name, note);
    });
    connect(m_bridge, &EngineBridge::runLabelled, this, [this] { refresh(); });
    connect(m_view->selectionModel(), &QItemSelectionModel::selectionChanged, this, [this] {
        const int selected = int(selectedRuns().size());
        m_compare->setEnabled(selected >= 2);
        m_label->setEnabled(selected == 1);
        m_open->setEnabled(selected == 1);
        m_resume->setEnabled(selected == 1);
        m_report->setEnabled(selected == 1);
        m_delete->setEnabled(selected == 1);
    });
    connect(m_report, &QPushButton::clicked, this, [this] { chooseReportFile(); });
    connect(m_delete, &QPushButton::clicked, this, [this] {
        if (const QString run = selectedRun(); !run.isEmpty())
            trashRun(run);
    });
    connect(m_bridge, &EngineBridge::reportMade, this,
            [this](const QString&, const QString& path, const QString& html) {
                if (!html.isEmpty()) {
                    if (const QString error = printReportToPdf(html, path); !error.isEmpty()) {
                        Q_EMIT failed(tr("Export report"), error, Origin::User);
                        return;
                    }
                }
                Q_EMIT message(tr("Report written to %1").arg(QDir::toNativeSeparators(path)));
                Q_EMIT reportExported(path);
            });
    connect(m_bridge, &EngineBridge::runsCompared, this, [this](const RunComparison& c) {
        if (!m_comparisonAsked) {
            // The open window's runs, read again after they changed on disk.
            if (m_comparison && m_comparison->runDirs() == c.runDirs)
                m_comparison->refresh(c);
            return;
        }
        m_comparisonAsked = false;
        if (m_comparison)
            m_comparison->close();
        auto* dialog = new CompareDialog(c, this);
        dialog->setObjectName(QStringLiteral("compareDialog"));
        dialog->setAttribute(Qt::WA_DeleteOnClose);
        dialog->show();
        m_comparison = dialog;
        Q_EMIT comparisonShown(dialog);
    });
    connect(m_resume, &QPushButton::clicked, this, [this] {
        if (const QString run = selectedRun(); !run.isEmpty())
            Q_EMIT resumeRequested(run);
    });
}

RunsPanel::~RunsPanel() {
    // The stack signals as QWidget's destructor clears it, and the bridge may be gone by then.
    m_undo->disconnect(this);
}

void RunsPanel::setWorkspace(const QString& folder) {
    m_workspace = QDir(folder).absolutePath();
    QDir().mkpath(m_workspace);
    m_where->setText(tr("Runs in %1").arg(QDir::toNativeSeparators(m_workspace)));
    if (!m_watcher.directories().isEmpty())
        m_watcher.removePaths(m_watcher.directories());
    m_watcher.addPath(m_workspace);
    refresh();
    Q_EMIT workspaceChanged(m_workspace);
}

void RunsPanel::refresh() {
    if (!m_workspace.isEmpty())
        m_bridge->listRuns(m_workspace);
}

void RunsPanel::setFilter(const QString& text) {
    if (m_filter->text() != text)
        m_filter->setText(text);
    m_proxy->setFilterFixedString(text);
}

QStringList RunsPanel::shownRuns() const {
    QStringList runs;
    for (int row = 0; row < m_proxy->rowCount(); ++row)
        runs << QString::fromStdString(runAtRow(row).path);
    return runs;
}

QString RunsPanel::selectedRun() const {
    const QStringList runs = selectedRuns();
    return runs.isEmpty() ? QString() : runs.front();
}

QStringList RunsPanel::selectedRuns() const {
    QStringList runs;
    for (const RunSummary* r : selectedSummaries())
        runs << QString::fromStdString(r->path);
    return runs;
}

std::vector<const RunSummary*> RunsPanel::selectedSummaries() const {
    std::vector<const RunSummary*> runs;
    for (const QModelIndex& index : m_view->selectionModel()->selectedRows())
        runs.push_back(&m_model->run(m_proxy->mapToSource(index).row()));
    return runs;
}

const RunSummary& RunsPanel::runAtRow(int row) const {
    return m_model->run(m_proxy->mapToSource(m_proxy->index(row, 0)).row());
}

void RunsPanel::selectRows(const QList<int>& rows) {
    m_view->clearSelection();
    for (int row : rows)
        m_view->selectionModel()->select(m_proxy->index(row, 0),
                                         QItemSelectionModel::Select | QItemSelectionModel::Rows);
}

void RunsPanel::labelRun(const QString& runDir, const QString& name, const QString& note) {
    m_bridge->labelRun(runDir, name, note);
}

void RunsPanel::trashRun(const QString& runDir) {
    const RunSummary* run = nullptr;
    for (const RunSummary& r : m_model->runs())
        if (QString::fromStdString(r.path) == runDir)
            run = &r;
    const QString name = run ? QString::fromStdString(run->name) : QFileInfo(runDir).fileName();
    if (run && run->status == "running") {
        Q_EMIT failed(tr("Delete run"),
                      tr("“%1” is being trained by process %2 on %3: stop it first.")
                          .arg(name)
                          .arg(run->pid)
                          .arg(QString::fromStdString(run->host)),
                      Origin::User);
        return;
    }
    QString error;
    const QString trashed = moveRunToTrash(runDir, &error);
    if (trashed.isEmpty()) {
        Q_EMIT failed(tr("Delete run"), error, Origin::User);
        return;
    }
    m_undo->push(new TrashRunCommand(runDir, name, trashed, [this](const QString& why) {
        Q_EMIT failed(tr("Undo"), why, Origin::User);
    }));
    Q_EMIT message(tr("Moved “%1” to the trash (Undo puts it back)").arg(name));
}

void RunsPanel::exportReport(const QString& runDir, const QString& outPath) {
    Q_EMIT message(tr("Writing the report of %1…").arg(QDir::toNativeSeparators(runDir)));
    m_bridge->exportReport(runDir, outPath);
}

void RunsPanel::chooseReportFile(const QString& runDir) {
    const QString run = runDir.isEmpty() ? selectedRun() : runDir;
    if (run.isEmpty()) {
        Q_EMIT failed(tr("Export report"), tr("Select a run in the Runs dock first."),
                      Origin::User);
        return;
    }
    QString selectedFilter;
    const QString path = QFileDialog::getSaveFileName(
        this, tr("Export report"),
        QDir(run).filePath(QFileInfo(run).fileName() + QStringLiteral("-report.html")),
        tr("Web page (*.html);;PDF (*.pdf)"), &selectedFilter);
    if (path.isEmpty())
        return;
    const bool pdf = selectedFilter.contains(QLatin1String("pdf")) ||
                     path.endsWith(QLatin1String(".pdf"), Qt::CaseInsensitive);
    QString out = path;
    if (pdf && !out.endsWith(QLatin1String(".pdf"), Qt::CaseInsensitive))
        out = QFileInfo(out).dir().filePath(QFileInfo(out).completeBaseName() +
                                            QStringLiteral(".pdf"));
    exportReport(run, out);
}

void RunsPanel::compareSelected() {
    QStringList dirs, names;
    for (const RunSummary* r : selectedSummaries()) {
        dirs << QString::fromStdString(r->path);
        names << QString::fromStdString(r->name);
    }
    if (dirs.size() < 2)
        return;
    m_comparisonAsked = true;
    m_bridge->compareRuns(dirs, names);
}

void RunsPanel::onListed(const QString& workspace, const std::vector<RunSummary>& runs) {
    if (workspace != m_workspace)
        return;  // an answer for a folder no longer shown
    const QStringList selected = selectedRuns();
    m_model->setRuns(runs);
    // Each run folder is watched too: its files are replaced (renamed over) as it trains.
    QStringList folders;
    for (const RunSummary& r : runs)
        folders << QString::fromStdString(r.path);
    const QStringList watched = m_watcher.directories();
    for (const QString& f : folders)
        if (!watched.contains(f))
            m_watcher.addPath(f);
    // A refresh keeps what was selected (the list is read again as runs train).
    QList<int> rows;
    for (int row = 0; row < m_proxy->rowCount(); ++row)
        if (selected.contains(QString::fromStdString(runAtRow(row).path)))
            rows << row;
    selectRows(rows);
    // An open comparison follows its runs: their curves grow as they train.
    if (m_comparison && !m_comparisonAsked) {
        QStringList names;
        for (const QString& dir : m_comparison->runDirs())
            for (const RunSummary& r : runs)
                if (QString::fromStdString(r.path) == dir)
                    names << QString::fromStdString(r.name);
        if (names.size() == m_comparison->runDirs().size())
            m_bridge->compareRuns(m_comparison->runDirs(), names);
    }
    Q_EMIT listed(int(runs.size()));
}

}  // namespace convscope::ui
