// The seed's central flow on a real network, as a new user would try it in the window:
// choosing nsfwjs@4.4.0's Keras MobileNetV2 (../shared/data) as starting weights sets the
// architecture and input size, and "Fine-tune (two phases)" runs both phases with no other
// choice made. A run that fails says why, not "Cancelled". Exits 77 (a CTest skip) where the
// shared copy of the network is missing.
#include "colourimages.h"
#include "train/trainingobserver.h"
#include "ui/dataset/datasetpanel.h"
#include "ui/engine/enginebridge.h"
#include "ui/mainwindow.h"
#include "ui/training/trainingpanel.h"

#include <QApplication>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QPushButton>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

#include <cstdio>

using namespace convscope;
using namespace convscope::ui;

namespace {

const QString kModelJson =
    QStringLiteral(CONVSCOPE_SHARED_DATA "/nsfwjs-4.4.0/mobilenet_v2/model.json");

QJsonObject readJson(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        return {};
    return QJsonDocument::fromJson(f.readAll()).object();
}

}  // namespace

class TestRealFineTune : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void choosingTheNetworkSetsArchitectureAndSize();
    void fineTuneRunsBothPhasesWithNoOtherChoice();
    void aFailedRunSaysWhyNotCancelled();

private:
    QTemporaryDir m_dir;
    std::unique_ptr<MainWindow> m_window;
};

void TestRealFineTune::initTestCase() {
    QStandardPaths::setTestModeEnabled(true);
    QVERIFY(m_dir.isValid());
    const QString data = m_dir.filePath(QStringLiteral("colours"));
    QVERIFY(test::writeColourImages(data + QStringLiteral("/red"), QColor(200, 20, 30), 8));
    QVERIFY(test::writeColourImages(data + QStringLiteral("/blue"), QColor(20, 30, 200), 8));
    m_window = std::make_unique<MainWindow>();
    m_window->resize(1280, 800);
    m_window->show();
    m_window->openFolder(data);
    QTRY_VERIFY_WITH_TIMEOUT(m_window->datasetPanel()->dataset() != nullptr, 10000);
}

void TestRealFineTune::choosingTheNetworkSetsArchitectureAndSize() {
    TrainingPanel* training = m_window->trainingPanel();
    QCOMPARE(training->config().model.architecture, Architecture::SmallConvNet);
    training->setStartingWeights(kModelJson);
    QTRY_COMPARE_WITH_TIMEOUT(training->config().model.architecture, Architecture::MobileNetV2,
                              10000);
    QCOMPARE(training->config().model.inputSize, 224);
    QVERIFY(training->statusLabel()->text().contains(QStringLiteral("mobilenetv2")));
}

void TestRealFineTune::fineTuneRunsBothPhasesWithNoOtherChoice() {
    TrainingPanel* training = m_window->trainingPanel();
    training->setFineTuneEpochs(1);
    const QString run = m_dir.filePath(QStringLiteral("recipe"));
    training->setRunDirectory(run);
    QSignalSpy finished(m_window->bridge(), &EngineBridge::trainingFinished);
    QSignalSpy failed(m_window->bridge(), &EngineBridge::failed);
    QTest::mouseClick(training->fineTuneButton(), Qt::LeftButton);
    QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 1, 300000);
    const auto result = finished.last().at(0).value<TrainingResult>();
    QVERIFY2(result.error.empty(), result.error.c_str());
    QVERIFY(!result.cancelled);
    QCOMPARE(failed.count(), 0);
    QVERIFY(QFile::exists(run + QStringLiteral("/weights.h5")));
    const QJsonObject recipe = readJson(run + QStringLiteral("/recipe.json"));
    QCOMPARE(recipe.value(QStringLiteral("train")).toObject().value(QStringLiteral("flavour")),
             QStringLiteral("keras"));
    QVERIFY(
        recipe.value(QStringLiteral("last_block")).toString().startsWith(QStringLiteral("block_")));
    QVERIFY(training->statusLabel()->text().startsWith(QStringLiteral("Finished")));
}

void TestRealFineTune::aFailedRunSaysWhyNotCancelled() {
    TrainingPanel* training = m_window->trainingPanel();
    const QString broken = m_dir.filePath(QStringLiteral("broken.h5"));
    QFile f(broken);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write("\x89HDF\r\n\x1a\n and then nothing an HDF5 library can read");
    f.close();
    training->setStartingWeights(broken);
    training->setRunDirectory(m_dir.filePath(QStringLiteral("failing")));
    QSignalSpy finished(m_window->bridge(), &EngineBridge::trainingFinished);
    QTest::mouseClick(training->fineTuneButton(), Qt::LeftButton);
    QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 1, 60000);
    const auto result = finished.last().at(0).value<TrainingResult>();
    QVERIFY(!result.cancelled);
    QVERIFY(!result.error.empty());
    const QString status = training->statusLabel()->text();
    QVERIFY2(status.startsWith(QStringLiteral("Stopped: ")), qPrintable(status));
    QVERIFY2(status.contains(QStringLiteral("broken.h5")), qPrintable(status));
    QVERIFY(!status.contains(QStringLiteral("Cancelled")));
}

int main(int argc, char** argv) {
    if (!QFile::exists(kModelJson)) {
        std::fprintf(stderr, "SKIPPED: %s is missing (the shared copy of nsfwjs@4.4.0)\n",
                     qPrintable(kModelJson));
        return 77;
    }
    QApplication app(argc, argv);
    TestRealFineTune test;
    return QTest::qExec(&test, argc, argv);
}

#include "tst_realfinetune.moc"
