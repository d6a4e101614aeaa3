// Drives the workbench through its main job on a dataset and saves screenshots of the whole
// window and of each panel, for docs/. Not a test. Usage:
//   make_screenshots DATA OUT_DIR [WIDTHxHEIGHT]    (run under xvfb-run for a real X server)
#include "ui/augment/augmentpanel.h"
#include "ui/classify/classifypanel.h"
#include "ui/dataset/datasetpanel.h"
#include "ui/evaluate/evaluationpanel.h"
#include "ui/help/glossarydialog.h"
#include "ui/help/helpcontroller.h"
#include "ui/inspect/featuremapsview.h"
#include "ui/inspect/filtersview.h"
#include "ui/inspect/imagegridview.h"
#include "ui/inspect/inspectpanel.h"
#include "train/trainer.h"
#include "ui/mainwindow.h"
#include "ui/runs/comparedialog.h"
#include "ui/runs/runspanel.h"
#include "ui/training/layerlist.h"
#include "ui/training/networksurgery.h"
#include "ui/training/trainingpanel.h"
#include "ui/training/trainingplots.h"
#include "ui/training/transferadvice.h"

#include <QAction>
#include <QApplication>
#include <QDir>
#include <QDockWidget>
#include <QFileInfo>
#include <QElapsedTimer>
#include <QFile>
#include <QPushButton>
#include <QLabel>
#include <QMessageBox>
#include <QMouseEvent>
#include <QProcess>
#include <QScreen>
#include <QTreeWidget>
#include <QTemporaryDir>
#include <QTimer>

#include <algorithm>
#include <cmath>

using namespace convscope::ui;

namespace {

void waitFor(const std::function<bool()>& done, int timeoutMs) {
    QElapsedTimer clock;
    clock.start();
    while (!done() && clock.elapsed() < timeoutMs)
        QCoreApplication::processEvents(QEventLoop::AllEvents, 50);
}

void pause(int ms) {
    waitFor([] { return false; }, ms);
}

void hover(QWidget* widget, const QPoint& pos) {
    QMouseEvent move(QEvent::MouseMove, QPointF(pos), widget->mapToGlobal(QPointF(pos)),
                     Qt::NoButton, Qt::NoButton, Qt::NoModifier);
    QCoreApplication::sendEvent(widget, &move);
}

void click(QWidget* widget, const QPoint& pos) {
    QMouseEvent press(QEvent::MouseButtonPress, QPointF(pos), widget->mapToGlobal(QPointF(pos)),
                      Qt::LeftButton, Qt::LeftButton, Qt::NoModifier);
    QCoreApplication::sendEvent(widget, &press);
}

// The inspect panel's two tabs, with the side docks out of the way so that it has the room
// a person would give it.
void inspectShots(MainWindow& window, const QString& out, const QString& image) {
    QList<QDockWidget*> hidden;
    for (QDockWidget* d : window.findChildren<QDockWidget*>()) {
        if (d->isVisible()) {
            d->hide();
            hidden.push_back(d);
        }
    }
    window.showCentreTab(1);
    InspectPanel* inspect = window.inspectPanel();
    waitFor([&] { return !inspect->layers().layers.empty(); }, 30000);
    QStringList conv;
    for (const auto& l : inspect->layers().layers)
        if (l.hasKernels)
            conv.push_back(QString::fromStdString(l.name));

    FiltersView* filters = inspect->filters();
    inspect->showFilters();
    bool layerDone = false;
    QObject::connect(filters, &FiltersView::layerMaximized, [&] { layerDone = true; });
    filters->selectLayer(conv.back());
    convscope::MaximizeOptions options;
    options.steps = 40;
    options.jitter = 2;
    options.blurEvery = 4;
    filters->setOptions(options);
    filters->setShowBest(20);
    filters->setKernelSize(64);
    filters->maximizeLayer();
    waitFor([&] { return layerDone; }, 300000);
    filters->selectLayer(conv.front());
    pause(1500);
    click(filters->pictureGrid(), filters->pictureGrid()->imageRect(0).center());
    hover(filters->pictureGrid(), filters->pictureGrid()->imageRect(0).center());
    pause(500);
    inspect->grab().save(QDir(out).filePath(QStringLiteral("inspect-filters.png")));

    FeatureMapsView* maps = inspect->featureMaps();
    inspect->showFeatureMaps();
    maps->selectLayer(conv.front());
    maps->setTileSize(124);
    maps->setImage(image);
    waitFor([&] { return !maps->maps().values.empty(); }, 30000);
    pause(800);
    // Enlarge the map that fires hardest and hover its strongest point.
    const convscope::FeatureMaps& m = maps->maps();
    const auto peak = std::max_element(m.values.begin(), m.values.end()) - m.values.begin();
    const int plane = m.width * m.height;
    const int channel = int(peak) / plane;
    const int px = int(peak) % plane % m.width, py = int(peak) % plane / m.width;
    const QRect r = maps->grid()->imageRect(channel);
    const QPoint at(r.x() + (px * r.width() + r.width() / 2) / m.width,
                    r.y() + (py * r.height() + r.height() / 2) / m.height);
    click(maps->grid(), at);
    hover(maps->grid(), at);
    pause(500);
    inspect->grab().save(QDir(out).filePath(QStringLiteral("inspect-featuremaps.png")));
    window.showCentreTab(0);
    for (QDockWidget* d : hidden)
        d->show();
}

// A made-up run whose validation accuracy stalls while training accuracy climbs: the charts
// as they look when the overfitting warning fires (the demo run is too short to overfit).
void overfittingShot(const QString& out) {
    TrainingPlots plots;
    plots.resize(900, 560);
    plots.show();
    const double train[] = {0.42, 0.58, 0.68, 0.75, 0.81, 0.86, 0.90, 0.93, 0.95, 0.97};
    const double validation[] = {0.45, 0.60, 0.68, 0.72, 0.73, 0.73, 0.72, 0.72, 0.71, 0.71};
    const int batches = 20;
    for (int e = 0; e < 10; ++e) {
        for (int b = 1; b <= batches; ++b) {
            convscope::BatchEnd batch;
            batch.epoch = e + 1;
            batch.batch = b;
            batch.batchesPerEpoch = batches;
            const double from = e > 0 ? train[e - 1] : 0.2, t = double(b) / batches;
            batch.accuracy = from + (train[e] - from) * t + 0.03 * std::sin(7.0 * b + e);
            batch.loss = 1.7 * (1 - batch.accuracy) + 0.02;
            plots.addBatch(batch);
        }
        convscope::EpochEnd epoch;
        epoch.epoch = e + 1;
        epoch.trainAccuracy = train[e];
        epoch.validationAccuracy = validation[e];
        epoch.trainLoss = 1.7 * (1 - train[e]) + 0.02;
        epoch.validationLoss = 1.7 * (1 - validation[e]) + 0.1 * std::max(0, e - 3) * 0.6;
        plots.addEpoch(epoch);
    }
    pause(600);
    plots.grab().save(QDir(out).filePath(QStringLiteral("overfitting.png")));
}

// Help > Glossary on one term, and what its "Show me" link does in the window.
void glossaryShots(MainWindow& window, const QString& out) {
    window.help()->showGlossary(QStringLiteral("batch"));
    GlossaryDialog* glossary = window.help()->glossary();
    glossary->resize(820, 560);
    pause(500);
    glossary->grab().save(QDir(out).filePath(QStringLiteral("glossary.png")));
    glossary->setFilter(QStringLiteral("frozen"));
    pause(300);
    glossary->grab().save(QDir(out).filePath(QStringLiteral("glossary-search.png")));
    glossary->setFilter(QString());
    glossary->selectTerm(QStringLiteral("batch"));
    glossary->hide();
    window.help()->showMe(QStringLiteral("trainingBatchSize"));
    pause(400);
    TrainingPanel* training = window.trainingPanel();
    const QRect panel(training->mapTo(&window, QPoint(0, 0)), training->size());
    window.grab(panel.adjusted(0, 0, 0, -panel.height() / 2))
        .save(QDir(out).filePath(QStringLiteral("glossary-showme.png")));
}

// A few images a class: the suggestion to fine-tune and the batch-size line, on a small copy
// of the demo data (3 classes, 40 training and 10 validation images each).
void fewImagesShot(MainWindow& window, const QString& data, const QString& out) {
    QTemporaryDir small;
    QStringList classes =
        QDir(data + QStringLiteral("/train")).entryList(QDir::Dirs | QDir::NoDotAndDotDot);
    classes = classes.mid(0, 3);
    for (const QString& c : classes) {
        for (const auto& [split, count] : {std::pair{QStringLiteral("train"), 40},
                                           std::pair{QStringLiteral("validation"), 10}}) {
            const QDir from(data + QLatin1Char('/') + split + QLatin1Char('/') + c);
            const QString to = small.filePath(split + QLatin1Char('/') + c);
            QDir().mkpath(to);
            const QStringList files = from.entryList(QDir::Files, QDir::Name).mid(0, count);
            for (const QString& f : files)
                QFile::copy(from.filePath(f), QDir(to).filePath(f));
        }
    }
    window.trainingPanel()->setStartingWeights(QString());
    window.trainingPanel()->setArchitecture(convscope::Architecture::SmallConvNet,
                                            convscope::Head::GlobalAveragePool);
    window.openFolder(small.path());
    waitFor([&] { return window.trainingPanel()->transferAdvice()->isVisible(); }, 30000);
    window.trainingPanel()->setBasicSettings(64, 10, 32);
    window.trainingPanel()->plots()->clear();
    window.trainingPanel()->statusLabel()->setText(QStringLiteral("Not training"));
    window.showCentreTab(0);
    pause(800);
    window.trainingPanel()->grab().save(QDir(out).filePath(QStringLiteral("few-images.png")));
}

/// A data-parallel run of two processes (the real program, as a user starts it), opened while
/// it trains and paused from the window: the Training tab's line names each rank's images/s
/// and says it is paused; the button reads Resume. Cancelled afterwards, and `ownRun` (the run
/// trained in the window) opened again, so that the shots after this one follow it rather than
/// a run whose folder is gone.
void dataParallelShot(MainWindow& window, const QString& data, const QString& out,
                      const QString& ownRun) {
    QTemporaryDir workspace;
    const QString run = QDir(workspace.path()).filePath(QStringLiteral("data-parallel"));
    QProcess cli;
    cli.start(QStringLiteral(CONVSCOPE_BINARY),
              {QStringLiteral("train"), data, QStringLiteral("--out"), run,
               QStringLiteral("--epochs"), QStringLiteral("40"), QStringLiteral("--size"),
               QStringLiteral("28"), QStringLiteral("--batch"), QStringLiteral("32"),
               QStringLiteral("--nproc-per-node"), QStringLiteral("2")});
    if (!cli.waitForStarted())
        return;
    const auto epochs = [&] {
        QFile history(run + QStringLiteral("/history.csv"));
        return history.open(QIODevice::ReadOnly) ? int(history.readAll().count('\n')) - 1 : 0;
    };
    waitFor([&] { return epochs() >= 3; }, 300000);
    // The Runs dock's workspace is what the window follows live.
    const QString shownWorkspace = window.runsPanel()->workspace();
    window.runsPanel()->setWorkspace(workspace.path());
    window.openRun(run);
    TrainingPanel* training = window.trainingPanel();
    waitFor([&] { return training->statusText().contains(QStringLiteral("data-parallel")); },
            10000);
    training->pauseButton()->click();
    waitFor([&] { return training->statusText().contains(QStringLiteral("paused")); }, 30000);
    pause(500);
    training->grab().save(QDir(out).filePath(QStringLiteral("training-data-parallel.png")));
    training->cancelButton()->click();
    cli.waitForFinished(60000);
    window.runsPanel()->setWorkspace(shownWorkspace);
    window.openRun(ownRun);
    waitFor([&] { return training->shownRun() == QDir(ownRun).absolutePath(); }, 10000);
}

/// Three short runs on the demo data that differ in learning rate and augmentation, compared.
void compareShot(MainWindow& window, const QString& data, const QString& out) {
    QTemporaryDir workspace;
    const struct {
        const char* name;
        double learningRate;
        bool augment;
    } runs[] = {
        {"adam-1e-3", 1e-3, true}, {"adam-3e-3", 3e-3, true}, {"no-augmentation", 1e-3, false}};
    for (const auto& r : runs) {
        convscope::TrainConfig c;
        c.dataDir = data.toStdString();
        c.runDir = QDir(workspace.path()).filePath(QLatin1String(r.name)).toStdString();
        c.model.inputSize = 28;
        c.epochs = 4;
        c.batchSize = 64;
        c.learningRate = r.learningRate;
        c.augment = r.augment;
        c.augmentation.rotationRange = 15;
        c.augmentation.horizontalFlip = true;
        convscope::Trainer(c, nullptr).run();
    }
    RunsPanel* panel = window.runsPanel();
    bool listed = false;
    const auto once = QObject::connect(panel, &RunsPanel::listed, [&listed] { listed = true; });
    panel->setWorkspace(workspace.path());
    waitFor([&] { return listed; }, 10000);
    QObject::disconnect(once);
    panel->selectRows({0, 1, 2});
    CompareDialog* shown = nullptr;
    const auto opened = QObject::connect(panel, &RunsPanel::comparisonShown,
                                         [&shown](CompareDialog* d) { shown = d; });
    panel->compareSelected();
    waitFor([&] { return shown != nullptr; }, 10000);
    QObject::disconnect(opened);
    pause(500);
    shown->grab().save(QDir(out).filePath(QStringLiteral("runs-compare.png")));
    shown->showTab(1);
    shown->resize(1530, 430);
    pause(300);
    shown->grab().save(QDir(out).filePath(QStringLiteral("runs-compare-confusion.png")));
    panel->selectRows({0});
    // Wide and tall enough for every column.
    window.resize(1900, 1000);
    auto* runsDock = window.findChild<QDockWidget*>(QStringLiteral("runs"));
    runsDock->raise();
    window.resizeDocks({runsDock}, {260}, Qt::Vertical);
    pause(400);
    window.runsPanel()->grab().save(QDir(out).filePath(QStringLiteral("runs-dock.png")));
    shown->close();
    panel->setWorkspace(QDir(out).absolutePath());
}

}  // namespace

int main(int argc, char** argv) {
    QApplication app(argc, argv);
    QApplication::setOrganizationName(QStringLiteral("ConvScope-screenshots"));
    if (argc < 3)
        return 2;
    const QString data = QString::fromLocal8Bit(argv[1]);
    const QString out = QString::fromLocal8Bit(argv[2]);
    const QStringList size =
        argc > 3 ? QString::fromLocal8Bit(argv[3]).split(QLatin1Char('x')) : QStringList{};
    QDir().mkpath(out);
    const QString suffix =
        size.size() == 2 ? QStringLiteral("-") + size[0] + QLatin1Char('x') + size[1] : QString();

    MainWindow window;
    window.resize(size.size() == 2 ? size[0].toInt() : 1280,
                  size.size() == 2 ? size[1].toInt() : 800);
    window.show();
    window.openFolder(data);
    waitFor([&] { return window.datasetPanel()->dataset() != nullptr; }, 60000);
    window.augmentPanel()->setParameter(QStringLiteral("rotation_range"), 30);
    pause(1500);

    TrainingPanel* training = window.trainingPanel();
    // A global-average-pooling head, large enough inputs for class activation maps to show.
    training->setArchitecture(convscope::Architecture::SmallConvNet,
                              convscope::Head::GlobalAveragePool);
    training->setBasicSettings(64, 4, 32);
    training->setRunDirectory(QDir(out).filePath(QStringLiteral("run")));
    bool finished = false;
    QObject::connect(window.bridge(), &EngineBridge::trainingFinished, [&] { finished = true; });
    training->start();
    waitFor([&] { return finished; }, 600000);
    pause(500);
    window.evaluationPanel()->evaluate();
    bool evaluated = false;
    QObject::connect(window.evaluationPanel(), &EvaluationPanel::evaluated,
                     [&] { evaluated = true; });
    waitFor([&] { return evaluated; }, 60000);
    window.evaluationPanel()->listImages(6, -1);
    const auto dataset = window.datasetPanel()->dataset();
    bool camShown = false;
    QObject::connect(window.classifyPanel(), &ClassifyPanel::camShown, [&] { camShown = true; });
    const QString image = QString::fromStdString(dataset->samples()[5].path);
    window.classifyPanel()->classify(image);
    waitFor([&] { return camShown; }, 60000);
    pause(1500);

    window.grab().save(QDir(out).filePath(QStringLiteral("window%1.png").arg(suffix)));
    if (suffix.isEmpty()) {
        window.datasetPanel()->grab().save(QDir(out).filePath(QStringLiteral("dataset-panel.png")));
        window.augmentPanel()->grab().save(QDir(out).filePath(QStringLiteral("augment-panel.png")));
        training->grab().save(QDir(out).filePath(QStringLiteral("training-panel.png")));
        window.evaluationPanel()->grab().save(
            QDir(out).filePath(QStringLiteral("evaluate-panel.png")));
        window.classifyPanel()->parentWidget()->show();
        window.classifyPanel()->grab().save(
            QDir(out).filePath(QStringLiteral("classify-panel.png")));
        // The Runs dock over the folder that holds this run (docs/images/run).
        {
            bool listed = false;
            const auto once = QObject::connect(window.runsPanel(), &RunsPanel::listed,
                                               [&listed] { listed = true; });
            window.runsPanel()->setWorkspace(QDir(out).absolutePath());
            waitFor([&] { return listed; }, 10000);
            QObject::disconnect(once);
            window.findChild<QDockWidget*>(QStringLiteral("runs"))->raise();
            pause(300);
            window.runsPanel()->grab().save(QDir(out).filePath(QStringLiteral("runs-dock.png")));
            compareShot(window, data, out);
            dataParallelShot(window, data, out, QDir(out).filePath(QStringLiteral("run")));
            window.findChild<QDockWidget*>(QStringLiteral("evaluate"))->raise();
        }
        // Transfer learning: the trained run as starting weights, bottleneck features on (the
        // backbone frozen, augmentation off), the layer list with its totals.
        training->setStartingWeights(training->currentWeights());
        training->setBottleneck(true);
        training->showLayers(true);
        pause(800);
        training->grab().save(QDir(out).filePath(QStringLiteral("training-layers.png")));
        training->showLayers(false);
        training->setBottleneck(false);
        training->setStartingWeights(QString());
        window.classifyPanel()->grab().save(QDir(out).filePath(QStringLiteral("classify-cam.png")));
        inspectShots(window, out, image);
        // Help > About: the version, LibTorch, the GPUs and the CPU's precision.
        for (QAction* action : window.findChildren<QAction*>())
            if (action->text() == QStringLiteral("&About ConvScope"))
                action->trigger();
        pause(300);
        if (auto* about = window.findChild<QMessageBox*>(QStringLiteral("aboutBox"))) {
            about->grab().save(QDir(out).filePath(QStringLiteral("about.png")));
            about->close();
        }
        // Learning as you go: the glossary, the overfitting warning, the few-images hint.
        glossaryShots(window, out);
        overfittingShot(out);
        // A real pretrained network chosen as starting weights sets the architecture and size.
        const QString backbone =
            QStringLiteral(CONVSCOPE_SHARED_DATA "/nsfwjs-4.4.0/mobilenet_v2/model.json");
        if (QFileInfo::exists(backbone)) {
            training->setStartingWeights(backbone);
            waitFor([&] { return training->config().model.inputSize == 224; }, 30000);
            pause(800);
            training->grab().save(QDir(out).filePath(QStringLiteral("training-backbone.png")));
        }
        // A Keras network from its own file (InceptionV3), cut after mixed10 with a block added.
        const QString inception =
            QStringLiteral(CONVSCOPE_SHARED_DATA "/nsfwjs-4.4.0/inception_v3/model.json");
        if (QFileInfo::exists(inception)) {
            training->setStartingWeights(inception);
            waitFor([&] { return training->config().model.inputSize == 299; }, 30000);
            training->surgery()->cutAfter(QStringLiteral("mixed10"));
            training->surgery()->addBlock(QStringLiteral("gap,dropout:0.3"), {});
            training->showLayers(true);
            waitFor(
                [&] {
                    return !training->layers()
                                ->tree()
                                ->findItems(QStringLiteral("predictions"), Qt::MatchExactly)
                                .isEmpty();
                },
                60000);
            training->layers()->tree()->scrollToBottom();
            training->layers()->tree()->setCurrentItem(
                training->layers()
                    ->tree()
                    ->findItems(QStringLiteral("mixed10"), Qt::MatchExactly)
                    .value(0));
            pause(800);
            training->grab().save(QDir(out).filePath(QStringLiteral("training-keras-surgery.png")));
            training->showLayers(false);
        }
    }
    if (suffix.isEmpty())
        fewImagesShot(window, data, out);
    QDir(QDir(out).filePath(QStringLiteral("run"))).removeRecursively();
    return 0;
}
