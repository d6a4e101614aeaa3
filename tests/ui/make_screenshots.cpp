// Drives the workbench through its main job on a dataset and saves screenshots of the whole
// window and of each panel, for docs/. Not a test. Usage:
//   make_screenshots DATA OUT_DIR [WIDTHxHEIGHT]    (run under xvfb-run for a real X server)
#include "augment/augmentpanel.h"
#include "classify/classifypanel.h"
#include "dataset/datasetpanel.h"
#include "evaluate/evaluationpanel.h"
#include "mainwindow.h"
#include "training/trainingpanel.h"

#include <QApplication>
#include <QDir>
#include <QElapsedTimer>
#include <QScreen>
#include <QTimer>

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
    training->setBasicSettings(28, 4, 32);
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
    window.classifyPanel()->classify(QString::fromStdString(dataset->samples()[5].path));
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
    }
    QDir(QDir(out).filePath(QStringLiteral("run"))).removeRecursively();
    return 0;
}
