#include "ui/mainwindow.h"

#include "runtime.h"
#include "ui/augment/augmentpanel.h"
#include "ui/classify/classifypanel.h"
#include "ui/common/localfiledrop.h"
#include "ui/dataset/datasetpanel.h"
#include "ui/evaluate/evaluationpanel.h"
#include "ui/help/helpcontroller.h"
#include "ui/inspect/inspectpanel.h"
#include "ui/runs/runspanel.h"
#include "ui/training/trainingpanel.h"
#include "ui/training/runsfolder.h"
#include "ui/training/trainingplots.h"
#include "util/buglog.h"

#include <QApplication>
#include <QCloseEvent>
#include <QDateTime>
#include <QDir>
#include <QDockWidget>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QIcon>
#include <QListWidget>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QSaveFile>
#include <QSettings>
#include <QStatusBar>
#include <QTabWidget>

// convscope_ui is a static library: the linker keeps the icon's resources only if called for.
static void initIconResources() {
    Q_INIT_RESOURCE(convscope);
}

namespace convscope::ui {

namespace {

QDockWidget* dock(QMainWindow* window, const QString& title, const QString& name, QWidget* content,
                  Qt::DockWidgetArea area) {
    auto* d = new QDockWidget(title, window);
    d->setObjectName(name);
    d->setWidget(content);
    window->addDockWidget(area, d);
    return d;
}

}  // namespace

MainWindow::MainWindow(QWidget* parent)
    : QMainWindow(parent),
      m_bridge(new EngineBridge(this)),
      m_dataset(new DatasetPanel(m_bridge)),
      m_augment(new AugmentPanel(m_bridge)),
      m_training(new TrainingPanel(m_bridge)),
      m_classify(new ClassifyPanel(m_bridge)),
      m_evaluation(new EvaluationPanel(m_bridge)),
      m_inspect(new InspectPanel(m_bridge)),
      m_runs(new RunsPanel(m_bridge)),
      m_centre(new QTabWidget),
      m_issues(new QListWidget) {
    setWindowTitle(tr("ConvScope"));
    setAcceptDrops(true);
    m_centre->setDocumentMode(true);
    m_centre->addTab(m_training, tr("Training"));
    m_centre->addTab(m_inspect, tr("Inspect"));
    setCentralWidget(m_centre);
    QDockWidget* datasetDock =
        dock(this, tr("Dataset"), QStringLiteral("dataset"), m_dataset, Qt::LeftDockWidgetArea);
    QDockWidget* augmentDock = dock(this, tr("Augmentation"), QStringLiteral("augmentation"),
                                    m_augment, Qt::RightDockWidgetArea);
    QDockWidget* classifyDock =
        dock(this, tr("Classify"), QStringLiteral("classify"), m_classify, Qt::RightDockWidgetArea);
    QDockWidget* evaluateDock = dock(this, tr("Evaluate"), QStringLiteral("evaluate"), m_evaluation,
                                     Qt::BottomDockWidgetArea);
    QDockWidget* issuesDock =
        dock(this, tr("Issues"), QStringLiteral("issues"), m_issues, Qt::BottomDockWidgetArea);
    tabifyDockWidget(augmentDock, classifyDock);
    QDockWidget* runsDock =
        dock(this, tr("Runs"), QStringLiteral("runs"), m_runs, Qt::BottomDockWidgetArea);
    tabifyDockWidget(evaluateDock, issuesDock);
    tabifyDockWidget(evaluateDock, runsDock);
    augmentDock->raise();
    evaluateDock->raise();
    // Side docks run the full height; the bottom dock sits under the charts only.
    setCorner(Qt::BottomLeftCorner, Qt::LeftDockWidgetArea);
    setCorner(Qt::BottomRightCorner, Qt::RightDockWidgetArea);
    resizeDocks({datasetDock, augmentDock}, {330, 350}, Qt::Horizontal);
    resizeDocks({evaluateDock}, {230}, Qt::Vertical);

    m_help = new HelpController(this);
    createMenus();
    statusBar()->showMessage(tr("Drop a folder of class sub-folders here, or File > Open folder."));

    connect(m_bridge, &EngineBridge::imported, this, &MainWindow::onImported);
    connect(m_bridge, &EngineBridge::importProgress, m_dataset, &DatasetPanel::setImportProgress);
    connect(m_dataset, &DatasetPanel::cancelImportRequested, m_bridge, &EngineBridge::cancelImport);
    connect(m_bridge, &EngineBridge::failed, this, &MainWindow::onFailed);
    connect(m_bridge, &EngineBridge::failed, this, [this](const QString& what) {
        if (what == QLatin1String("Import"))
            m_dataset->clearImportProgress();
    });
    connect(m_dataset, &DatasetPanel::imageActivated, this, &MainWindow::onImageActivated);
    connect(m_evaluation, &EvaluationPanel::imageActivated, this, &MainWindow::onImageActivated);
    connect(m_augment, &AugmentPanel::paramsChanged, this, [this] {
        m_training->setAugmentation(m_augment->params(), m_augment->augmentationEnabled());
    });
    m_training->setAugmentation(m_augment->params(), m_augment->augmentationEnabled());
    connect(m_training, &TrainingPanel::bottleneckChanged, this, [this](bool on) {
        m_augment->setTrainingBlocked(
            on ? tr("Off for training: bottleneck features are computed once, so augmentation "
                    "cannot apply.")
               : QString());
    });
    connect(m_training, &TrainingPanel::weightsAvailable, this, [this](const QString& path) {
        if (!path.isEmpty())
            setWeights(path, Origin::Background);  // a snapshot after an epoch
    });

    connect(m_bridge, &EngineBridge::onnxExported, this,
            [this](const QString& path, const QString& summary) {
                statusBar()->showMessage(tr("Exported %1 (%2)").arg(path, summary));
            });

    connect(m_runs, &RunsPanel::runActivated, this, &MainWindow::openRun);
    connect(m_runs, &RunsPanel::resumeRequested, this,
            [this](const QString& dir) { m_training->resumeRun(dir); });
    // A run the window starts shows up in the list as soon as its folder is made.
    connect(m_bridge, &EngineBridge::trainingStarted, m_runs, &RunsPanel::refresh);
    connect(m_bridge, &EngineBridge::trainingFinished, m_runs, &RunsPanel::refresh);

    // An opened run is followed on the Training tab: read again each time the dock sees the
    // workspace change, until the window trains a run of its own.
    connect(m_runs, &RunsPanel::listed, this, [this] {
        if (!m_training->shownRun().isEmpty())
            m_bridge->followRun(m_training->shownRun());
    });
    connect(m_bridge, &EngineBridge::runFollowed, this, [this](const FollowedRun& run) {
        const QString path = QString::fromStdString(run.summary.path);
        // A reply about the run shown before may come in between: it leaves the request open.
        const bool opened = path == m_followRequested;
        if (opened)
            m_followRequested.clear();
        if (opened || path == m_training->shownRun())
            m_training->showRun(run, opened);
    });
    connect(m_runs, &RunsPanel::workspaceChanged, m_training, &TrainingPanel::setWorkspace);
    connect(m_runs, &RunsPanel::failed, this, &MainWindow::onFailed);
    connect(m_runs, &RunsPanel::message, this,
            [this](const QString& text) { statusBar()->showMessage(text, 8000); });

    QSettings settings;
    m_runs->setWorkspace(settings.value(QStringLiteral("runs/workspace"), runsFolder()).toString());
    restoreGeometry(settings.value(QStringLiteral("window/geometry")).toByteArray());
    restoreState(settings.value(QStringLiteral("window/state")).toByteArray());
    if (!settings.contains(QStringLiteral("window/geometry")))
        resize(1280, 800);
}

MainWindow::~MainWindow() = default;

void MainWindow::createMenus() {
    QMenu* file = menuBar()->addMenu(tr("&File"));
    file->addAction(tr("&Open folder…"), QKeySequence::Open, this, [this] {
        const QString dir =
            QFileDialog::getExistingDirectory(this, tr("Open a dataset folder"), m_folder);
        if (!dir.isEmpty())
            openFolder(dir);
    });
    m_recent = file->addMenu(tr("Open &recent"));
    rebuildRecentMenu();
    file->addSeparator();
    file->addAction(tr("&Load weights…"), QKeySequence(tr("Ctrl+L")), this, [this] {
        const QString path = QFileDialog::getOpenFileName(
            this, tr("Load weights"), {}, tr("Weight files (*.h5 *.hdf5 *.pth);;All files (*)"));
        if (!path.isEmpty())
            loadWeights(path);
    });
    file->addAction(tr("&Save weights as…"), QKeySequence::Save, this, [this] {
        const QString path = QFileDialog::getSaveFileName(
            this, tr("Save weights"), QStringLiteral("weights.h5"), tr("HDF5 weights (*.h5)"));
        if (!path.isEmpty())
            saveWeights(path);
    });
    QAction* onnx = file->addAction(tr("Export &ONNX…"), this, [this] {
        const QString source = m_classify->weights();
        const QString suggested = source.isEmpty()
                                      ? QStringLiteral("model.onnx")
                                      : QFileInfo(source).completeBaseName() +
                                            QStringLiteral(".onnx");
        const QString path = QFileDialog::getSaveFileName(this, tr("Export ONNX"), suggested,
                                                          tr("ONNX models (*.onnx)"));
        if (!path.isEmpty())
            exportOnnx(path);
    });
    onnx->setObjectName(QStringLiteral("exportOnnxAction"));
    file->addAction(tr("Resume a &run…"), this, [this] {
        const QString dir = QFileDialog::getExistingDirectory(this, tr("Run folder to resume"));
        if (!dir.isEmpty())
            m_training->resumeRun(dir);
    });
    file->addAction(tr("Export &report…"), this, [this] {
        // The run selected in the Runs dock, else the one the Training tab shows.
        const QString run = m_runs->selectedRun();
        m_runs->chooseReportFile(run.isEmpty() ? m_training->runDirectory() : run);
    });
    file->addSeparator();
    file->addAction(tr("&Quit"), QKeySequence::Quit, this, &QWidget::close);

    QMenu* edit = menuBar()->addMenu(tr("&Edit"));
    QAction* undo = m_runs->undoStack()->createUndoAction(this, tr("&Undo"));
    undo->setShortcut(QKeySequence::Undo);
    edit->addAction(undo);
    QAction* redo = m_runs->undoStack()->createRedoAction(this, tr("&Redo"));
    redo->setShortcut(QKeySequence::Redo);
    edit->addAction(redo);

    QMenu* train = menuBar()->addMenu(tr("&Training"));
    train->addAction(tr("&Start"), QKeySequence(tr("Ctrl+R")), m_training, &TrainingPanel::start);
    train->addAction(tr("&Pause / resume"), QKeySequence(tr("Ctrl+P")), m_training,
                     &TrainingPanel::togglePause);
    train->addAction(tr("&Cancel"), QKeySequence(tr("Ctrl+.")), m_training, &TrainingPanel::cancel);
    train->addSeparator();
    train->addAction(tr("&Evaluate"), QKeySequence(tr("Ctrl+E")), m_evaluation,
                     &EvaluationPanel::evaluate);
    train->addAction(tr("E&xport charts…"), this, [this] {
        const QString path =
            QFileDialog::getSaveFileName(this, tr("Export charts"), QStringLiteral("training.png"),
                                         tr("PNG (*.png);;PDF (*.pdf)"));
        if (!path.isEmpty() && !m_training->plots()->exportTo(path))
            addIssue(tr("Could not write %1").arg(path));
    });

    QMenu* view = menuBar()->addMenu(tr("&View"));
    view->addAction(tr("&Training charts"), QKeySequence(tr("Ctrl+1")), this,
                    [this] { showCentreTab(0); });
    view->addAction(tr("&Inspect the network"), QKeySequence(tr("Ctrl+2")), this,
                    [this] { showCentreTab(1); });
    view->addSeparator();
    for (QDockWidget* d : findChildren<QDockWidget*>())
        view->addAction(d->toggleViewAction());

    QMenu* help = menuBar()->addMenu(tr("&Help"));
    help->addAction(tr("&Glossary"), QKeySequence::HelpContents, m_help,
                    [this] { m_help->showGlossary(); });
    help->addAction(tr("&About ConvScope"), this, [this] {
        auto* box = new QMessageBox(QMessageBox::Information, tr("About ConvScope"), aboutText(),
                                    QMessageBox::Ok, this);
        box->setObjectName(QStringLiteral("aboutBox"));
        box->setIconPixmap(applicationIcon().pixmap(64, 64));
        box->setAttribute(Qt::WA_DeleteOnClose);
        box->open();
    });
}

QString MainWindow::aboutText() {
    return tr("A workbench for training and looking inside image classifiers.\n\n") +
           QString::fromStdString(runtimeInfoText(runtimeInfo()));
}

void MainWindow::openFolder(const QString& path) {
    m_folder = QFileInfo(path).absoluteFilePath();
    statusBar()->showMessage(tr("Importing %1…").arg(m_folder));
    m_bridge->importFolder(m_folder, 0.2, 1337);
}

void MainWindow::onImported(DatasetPtr dataset) {
    m_dataset->setDataset(dataset);
    m_folder = QString::fromStdString(dataset->root());
    m_training->setDataFolder(m_folder);
    m_training->setClassCount(int(dataset->classNames().size()));
    m_evaluation->setSource(m_classify->weights(), m_folder);
    rememberFolder(m_folder);
    const auto& report = dataset->report();
    for (const auto& w : report.warnings)
        addIssue(QString::fromStdString(w));
    if (!report.skipped.empty())
        addIssue(tr("%1 files skipped in %2 (see the Dataset panel's flagged files)")
                     .arg(report.skipped.size())
                     .arg(m_folder));
    statusBar()->showMessage(tr("%1: %2 classes, %3 images")
                                 .arg(m_folder)
                                 .arg(dataset->classNames().size())
                                 .arg(dataset->usableCount()));
    for (std::size_t i = 0; i < dataset->samples().size(); ++i) {
        if (dataset->samples()[i].usable) {
            onImageActivated(QString::fromStdString(dataset->samples()[i].path));
            break;
        }
    }
}

void MainWindow::onImageActivated(const QString& path) {
    QString className;
    if (const DatasetPtr d = m_dataset->dataset()) {
        const std::string p = path.toStdString();
        for (const Sample& s : d->samples()) {
            if (s.path == p) {
                className = QString::fromStdString(d->classNames()[std::size_t(s.label)]);
                break;
            }
        }
    }
    m_augment->setImage(path, className);
    m_inspect->setImage(path);
    if (!m_classify->weights().isEmpty())
        m_classify->classify(path);
}

void MainWindow::setWeights(const QString& path, Origin origin) {
    m_classify->setWeights(path);
    m_evaluation->setSource(path, m_folder);
    m_inspect->setWeights(path, origin);
}

void MainWindow::openRun(const QString& runDir) {
    const QDir dir(runDir);
    const QString weights = dir.filePath(QStringLiteral("weights.h5"));
    const QString latest = dir.filePath(QStringLiteral("latest.h5"));
    if (QFileInfo::exists(weights))
        loadWeights(weights);
    else if (QFileInfo::exists(latest))
        loadWeights(latest);
    else
        onFailed(tr("Open run"),
                 tr("%1 has no weights yet (its first epoch never finished)").arg(runDir),
                 Origin::User);
    // Its curves on the Training tab (unless the window is training), following it.
    m_followRequested = QDir(runDir).absolutePath();
    m_bridge->followRun(m_followRequested);
}

void MainWindow::showCentreTab(int index) {
    m_centre->setCurrentIndex(index);
}

void MainWindow::loadWeights(const QString& path) {
    setWeights(path);
    statusBar()->showMessage(tr("Classifying with %1").arg(path));
}

bool MainWindow::saveWeights(const QString& path) {
    const QString source = m_classify->weights();
    QFile in(source);
    QSaveFile out(path);  // written beside the target and renamed: never half a file
    if (source.isEmpty() || !in.open(QIODevice::ReadOnly) || !out.open(QIODevice::WriteOnly) ||
        out.write(in.readAll()) < 0 || !out.commit()) {
        onFailed(
            tr("Save weights"),
            source.isEmpty() ? tr("There is no model yet.") : tr("Could not write %1").arg(path),
            Origin::User);
        return false;
    }
    statusBar()->showMessage(tr("Saved %1").arg(path));
    return true;
}

void MainWindow::exportOnnx(const QString& path) {
    const QString source = m_classify->weights();
    if (source.isEmpty()) {
        onFailed(tr("Export ONNX"), tr("There is no model yet: train one or load weights."),
                 Origin::User);
        return;
    }
    statusBar()->showMessage(tr("Exporting %1 as %2…").arg(source, path));
    m_bridge->exportOnnx(source, path);
}

void MainWindow::addIssue(const QString& text) {
    m_issues->addItem(QDateTime::currentDateTime().toString(QStringLiteral("HH:mm:ss  ")) + text);
    m_issues->scrollToBottom();
}

void MainWindow::onFailed(const QString& what, const QString& message, Origin origin) {
    addIssue(QStringLiteral("%1: %2").arg(what, message));
    statusBar()->showMessage(QStringLiteral("%1 failed: %2").arg(what, message));
    // What the user just asked for gets a (non-blocking) dialog; background work (the refresh
    // after every epoch, previews, layer lists) stays in the issues dock.
    if (origin != Origin::User)
        return;
    auto* box = new QMessageBox(QMessageBox::Warning, what, message, QMessageBox::Ok, this);
    box->setObjectName(QStringLiteral("failureBox"));
    box->setAttribute(Qt::WA_DeleteOnClose);
    box->open();
}

void MainWindow::rememberFolder(const QString& path) {
    QSettings settings;
    QStringList recent = settings.value(QStringLiteral("recentFolders")).toStringList();
    recent.removeAll(path);
    recent.prepend(path);
    while (recent.size() > 8)
        recent.removeLast();
    settings.setValue(QStringLiteral("recentFolders"), recent);
    rebuildRecentMenu();
}

void MainWindow::rebuildRecentMenu() {
    m_recent->clear();
    const QStringList recent = QSettings().value(QStringLiteral("recentFolders")).toStringList();
    for (const QString& folder : recent)
        m_recent->addAction(folder, this, [this, folder] { openFolder(folder); });
    m_recent->setEnabled(!recent.isEmpty());
}

void MainWindow::dragEnterEvent(QDragEnterEvent* event) {
    acceptLocalFileDrag(event);
}

void MainWindow::dropEvent(QDropEvent* event) {
    const QString path = takeDroppedLocalPath(event);
    if (path.isEmpty())
        return;
    if (QFileInfo(path).isDir())
        openFolder(path);
    else
        onImageActivated(path);
}

void MainWindow::closeEvent(QCloseEvent* event) {
    if (m_bridge->isTraining())
        m_bridge->cancelTraining();  // the last checkpoint is kept; resume later
    QSettings settings;
    settings.setValue(QStringLiteral("window/geometry"), saveGeometry());
    settings.setValue(QStringLiteral("window/state"), saveState());
    settings.setValue(QStringLiteral("lastFolder"), m_folder);
    settings.setValue(QStringLiteral("runs/workspace"), m_runs->workspace());
    event->accept();
}

QIcon applicationIcon() {
    static const bool registered = (initIconResources(), true);
    Q_UNUSED(registered);
    QIcon icon;
    for (const int px : {16, 32, 48, 64, 128, 256, 512})
        icon.addFile(QStringLiteral(":/icons/convscope-%1.png").arg(px), QSize(px, px));
    return icon;
}

int runWorkbench(int argc, char** argv, const QString& folder) {
    // An exception escaping an event handler or a thread is a bug: reported, with a log.
    installTerminateReporter("the workbench window");
    QApplication app(argc, argv);
    QApplication::setOrganizationName(QStringLiteral("ConvScope"));
    QApplication::setApplicationName(QStringLiteral("ConvScope"));
    QApplication::setWindowIcon(applicationIcon());
    // The desktop matches the window with resources/io.github.convscope.ConvScope.desktop.
    QGuiApplication::setDesktopFileName(QStringLiteral("io.github.convscope.ConvScope"));
    MainWindow window;
    window.show();
    const QString start =
        folder.isEmpty() ? QSettings().value(QStringLiteral("lastFolder")).toString() : folder;
    if (!start.isEmpty() && QFileInfo(start).isDir())
        window.openFolder(start);
    return app.exec();
}

}  // namespace convscope::ui
