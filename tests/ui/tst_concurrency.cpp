// What a user does while training runs, in the window: Start twice, classify and load the
// weights while every epoch rewrites latest.h5, import another folder, and close the window.
// Nothing may crash, fail or be lost; the run keeps its checkpoint.
#include "colourimages.h"
#include "train/trainer.h"
#include "ui/classify/classifypanel.h"
#include "ui/dataset/datasetpanel.h"
#include "ui/engine/enginebridge.h"
#include "ui/mainwindow.h"
#include "ui/training/trainingpanel.h"

#include <QElapsedTimer>
#include <QFile>
#include <QPushButton>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

using namespace convscope;
using namespace convscope::ui;

class TestConcurrency : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void init();
    void cleanup();
    void startTwiceRunsOneTraining();
    void classifyingAndLoadingWhileTrainingRewritesTheSnapshot();
    void importingWhileTrainingLeavesTheRunAlone();
    void closingTheWindowWhileTrainingKeepsTheCheckpoint();

private:
    QString m_colours;
    QString m_shades;
    QTemporaryDir m_dir;
    std::unique_ptr<MainWindow> m_window;
};

void TestConcurrency::initTestCase() {
    QStandardPaths::setTestModeEnabled(true);
    QVERIFY(m_dir.isValid());
    m_colours = m_dir.filePath(QStringLiteral("colours"));
    QVERIFY(test::writeColourImages(m_colours + QStringLiteral("/red"), QColor(200, 20, 30), 16));
    QVERIFY(test::writeColourImages(m_colours + QStringLiteral("/blue"), QColor(20, 30, 200), 16));
    m_shades = m_dir.filePath(QStringLiteral("shades"));
    QVERIFY(test::writeColourImages(m_shades + QStringLiteral("/dark"), QColor(20, 20, 20), 6));
    QVERIFY(test::writeColourImages(m_shades + QStringLiteral("/light"), QColor(230, 230, 230), 6));
}

void TestConcurrency::init() {
    m_window = std::make_unique<MainWindow>();
    m_window->resize(1280, 800);
    m_window->show();
    m_window->openFolder(m_colours);
    QTRY_VERIFY_WITH_TIMEOUT(m_window->datasetPanel()->dataset() != nullptr, 10000);
}

void TestConcurrency::cleanup() {
    m_window.reset();
}

void TestConcurrency::startTwiceRunsOneTraining() {
    TrainingPanel* training = m_window->trainingPanel();
    training->setBasicSettings(32, 2, 8);
    training->setRunDirectory(m_dir.filePath(QStringLiteral("twice")));
    QSignalSpy epochs(m_window->bridge(), &EngineBridge::epochEnded);
    QSignalSpy finished(m_window->bridge(), &EngineBridge::trainingFinished);
    QSignalSpy failed(m_window->bridge(), &EngineBridge::failed);
    training->start();
    training->start();  // a second press (or a script) while the first run starts
    QTRY_VERIFY_WITH_TIMEOUT(finished.count() >= 1, 120000);
    QCOMPARE(epochs.count(), 2);  // one run's epochs, not two runs' in one folder
    QCOMPARE(finished.count(), 1);
    QCOMPARE(failed.count(), 0);
    QVERIFY(finished.last().at(0).value<TrainingResult>().error.empty());
}

void TestConcurrency::classifyingAndLoadingWhileTrainingRewritesTheSnapshot() {
    TrainingPanel* training = m_window->trainingPanel();
    training->setBasicSettings(32, 6, 4);
    training->setRunDirectory(m_dir.filePath(QStringLiteral("snapshots")));
    QSignalSpy epochs(m_window->bridge(), &EngineBridge::epochEnded);
    QSignalSpy finished(m_window->bridge(), &EngineBridge::trainingFinished);
    QSignalSpy classified(m_window->bridge(), &EngineBridge::classified);
    QSignalSpy failed(m_window->bridge(), &EngineBridge::failed);
    training->start();
    const QString latest = m_dir.filePath(QStringLiteral("snapshots/latest.h5"));
    QTRY_VERIFY_WITH_TIMEOUT(QFile::exists(latest), 120000);
    // Every event-loop turn while the run goes on: load the snapshot that training keeps
    // replacing (classify, evaluate and inspect read it) and classify with it.
    int asked = 0;
    while (finished.isEmpty()) {
        m_window->loadWeights(latest);
        m_window->classifyPanel()->classify(m_colours + QStringLiteral("/red/1.png"));
        ++asked;
        QTest::qWait(20);
    }
    QTRY_COMPARE_WITH_TIMEOUT(classified.count(), asked, 30000);
    QVERIFY2(failed.isEmpty(), failed.isEmpty() ? "" : qPrintable(failed.first().at(1).toString()));
    QVERIFY(epochs.count() == 6);
    QVERIFY(asked >= 3);
    for (const auto& args : classified)
        QCOMPARE(args.at(0).value<Classification>().probabilities.size(), 2);
}

void TestConcurrency::importingWhileTrainingLeavesTheRunAlone() {
    TrainingPanel* training = m_window->trainingPanel();
    training->setBasicSettings(32, 3, 8);
    training->setRunDirectory(m_dir.filePath(QStringLiteral("import")));
    QSignalSpy epochs(m_window->bridge(), &EngineBridge::epochEnded);
    QSignalSpy finished(m_window->bridge(), &EngineBridge::trainingFinished);
    QSignalSpy failed(m_window->bridge(), &EngineBridge::failed);
    training->start();
    QTRY_VERIFY_WITH_TIMEOUT(epochs.count() >= 1, 120000);
    m_window->openFolder(m_shades);
    QTRY_VERIFY_WITH_TIMEOUT(
        m_window->datasetPanel()->dataset() &&
            m_window->datasetPanel()->dataset()->classNames().front() == "dark",
        10000);
    QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 1, 120000);
    const auto result = finished.last().at(0).value<TrainingResult>();
    QVERIFY(!result.cancelled);
    QCOMPARE(result.epochsCompleted, 3);
    QCOMPARE(failed.count(), 0);
    // The run trained on the folder it started with.
    const TrainConfig recorded =
        Trainer::resumeConfig(m_dir.filePath(QStringLiteral("import")).toStdString());
    QCOMPARE(QString::fromStdString(recorded.dataDir), m_colours);
}

void TestConcurrency::closingTheWindowWhileTrainingKeepsTheCheckpoint() {
    TrainingPanel* training = m_window->trainingPanel();
    training->setBasicSettings(32, 200, 4);
    const QString run = m_dir.filePath(QStringLiteral("closed"));
    training->setRunDirectory(run);
    QSignalSpy epochs(m_window->bridge(), &EngineBridge::epochEnded);
    training->start();
    QTRY_VERIFY_WITH_TIMEOUT(epochs.count() >= 1, 120000);
    QElapsedTimer timer;
    timer.start();
    m_window->close();
    m_window.reset();  // the bridge cancels the run and waits for its threads
    QVERIFY2(timer.elapsed() < 30000, "closing waited for the whole run");
    QVERIFY(QFile::exists(run + QStringLiteral("/checkpoint.pt")));
    QVERIFY(!QFile::exists(run + QStringLiteral("/weights.h5")));
    // The kept checkpoint resumes.
    TrainConfig resumed = Trainer::resumeConfig(run.toStdString());
    resumed.epochs = 2;
    QCOMPARE(Trainer(resumed, nullptr, true).run().epochsCompleted, 2);
}

QTEST_MAIN(TestConcurrency)
#include "tst_concurrency.moc"
