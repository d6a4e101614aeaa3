// Measures the longest GUI event-loop stall of the real window while a folder imports and
// while training runs at full speed on it (one epoch). Not a test: prints the figures.
//   measure_stalls DATA [IMAGE_SIZE]
#include "stallmeter.h"
#include "ui/dataset/datasetpanel.h"
#include "ui/mainwindow.h"
#include "ui/training/trainingpanel.h"

#include <QApplication>
#include <QDir>
#include <QElapsedTimer>
#include <QTemporaryDir>

#include <cstdio>

using namespace convscope::ui;

int main(int argc, char** argv) {
    QApplication app(argc, argv);
    QApplication::setOrganizationName(QStringLiteral("ConvScope-measure"));
    if (argc < 2)
        return 2;
    const int size = argc > 2 ? std::atoi(argv[2]) : 64;
    MainWindow window;
    window.resize(1280, 800);
    window.show();
    auto waitFor = [](const std::function<bool()>& done) {
        while (!done())
            QCoreApplication::processEvents(QEventLoop::AllEvents, 20);
    };

    StallMeter meter;
    QElapsedTimer clock;
    clock.start();
    window.openFolder(QString::fromLocal8Bit(argv[1]));
    waitFor([&] { return window.datasetPanel()->dataset() != nullptr; });
    QCoreApplication::processEvents();
    std::printf("import of %zu images: %.2f s, longest GUI stall %lld ms\n",
                window.datasetPanel()->dataset()->samples().size(), clock.elapsed() / 1000.0,
                meter.longestMs());

    QTemporaryDir runs;
    TrainingPanel* training = window.trainingPanel();
    training->setBasicSettings(size, 1, 32);
    training->setRunDirectory(runs.filePath(QStringLiteral("run")));
    bool finished = false;
    QObject::connect(window.bridge(), &EngineBridge::trainingFinished, [&] { finished = true; });
    double imagesPerSecond = 0;
    QObject::connect(window.bridge(), &EngineBridge::batchEnded, [&](const convscope::BatchEnd& e) {
        imagesPerSecond = e.epochImagesPerSecond;
    });
    meter.reset();
    clock.restart();
    training->start();
    waitFor([&] { return finished; });
    std::printf("one training epoch at %dx%d (%.0f images/s): %.1f s, longest GUI stall %lld ms\n",
                size, size, imagesPerSecond, clock.elapsed() / 1000.0, meter.longestMs());
    return 0;
}
