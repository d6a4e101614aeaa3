// Errors by origin: what the user just asked for fails with a dialog, background work (the
// refresh after every epoch) only in the Issues dock. A run folder is read on the training
// thread, and an evaluation can be cancelled.
#include "colourimages.h"
#include "train/trainer.h"
#include "ui/engine/enginebridge.h"
#include "ui/evaluate/evaluationpanel.h"
#include "ui/mainwindow.h"
#include "ui/training/trainingpanel.h"

#include <QFile>
#include <QListWidget>
#include <QMessageBox>
#include <QPushButton>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

using namespace convscope;
using namespace convscope::ui;

class TestFailureOrigins : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void init();
    void cleanup();
    void aBrokenSnapshotAfterAnEpochGoesToTheIssuesDockOnly();
    void loadingBrokenWeightsShowsADialog();
    void resumingAFolderWithoutARunSaysWhyInThePanel();
    void resumingReadsTheRunAndPlansItsEpochs();
    void anEvaluationCanBeCancelled();

private:
    QMessageBox* failureBox() const {
        return m_window->findChild<QMessageBox*>(QStringLiteral("failureBox"));
    }

    QTemporaryDir m_dir;
    QString m_data;
    QString m_broken;
    QString m_run;
    std::unique_ptr<MainWindow> m_window;
};

void TestFailureOrigins::initTestCase() {
    QStandardPaths::setTestModeEnabled(true);
    QVERIFY(m_dir.isValid());
    m_data = m_dir.filePath(QStringLiteral("colours"));
    QVERIFY(test::writeColourImages(m_data + QStringLiteral("/red"), QColor(200, 20, 30), 12));
    QVERIFY(test::writeColourImages(m_data + QStringLiteral("/blue"), QColor(20, 30, 200), 12));
    m_broken = m_dir.filePath(QStringLiteral("latest.h5"));
    QFile broken(m_broken);
    QVERIFY(broken.open(QIODevice::WriteOnly));
    broken.write("\x89HDF\r\n\x1a\n but cut short");
    broken.close();
    // One finished epoch to resume and to evaluate.
    TrainConfig c;
    c.dataDir = m_data.toStdString();
    c.runDir = m_dir.filePath(QStringLiteral("run")).toStdString();
    c.model.inputSize = 32;
    c.epochs = 1;
    c.batchSize = 8;
    c.augment = false;
    Trainer trainer(c, nullptr);
    QVERIFY(trainer.run().epochsCompleted == 1);
    m_run = QString::fromStdString(c.runDir);
    // Planned for 3 epochs, so that a resume has work left.
    QFile config(m_run + QStringLiteral("/config.json"));
    QVERIFY(config.open(QIODevice::ReadOnly));
    QByteArray text = config.readAll();
    config.close();
    text.replace("\"epochs\": 1", "\"epochs\": 3");
    QVERIFY(config.open(QIODevice::WriteOnly | QIODevice::Truncate));
    config.write(text);
}

void TestFailureOrigins::init() {
    m_window = std::make_unique<MainWindow>();
    m_window->show();
    m_window->openFolder(m_data);
    QSignalSpy imported(m_window->bridge(), &EngineBridge::imported);
    QTRY_COMPARE_WITH_TIMEOUT(imported.count(), 1, 10000);
}

void TestFailureOrigins::cleanup() {
    m_window.reset();
}

void TestFailureOrigins::aBrokenSnapshotAfterAnEpochGoesToTheIssuesDockOnly() {
    QSignalSpy failed(m_window->bridge(), &EngineBridge::failed);
    const int issues = m_window->issues()->count();
    // What training announces after every epoch: the window refreshes its inspection.
    Q_EMIT m_window->trainingPanel()->weightsAvailable(m_broken);
    QTRY_COMPARE_WITH_TIMEOUT(failed.count(), 1, 10000);
    QCOMPARE(failed.first().at(0).toString(), QStringLiteral("Inspect"));
    QCOMPARE(failed.first().at(2).value<Origin>(), Origin::Background);
    QTRY_COMPARE(m_window->issues()->count(), issues + 1);
    QVERIFY(m_window->issues()->item(issues)->text().contains(QStringLiteral("latest.h5")));
    QTest::qWait(50);  // give a dialog the chance it must not take
    QVERIFY(failureBox() == nullptr);
}

void TestFailureOrigins::loadingBrokenWeightsShowsADialog() {
    QSignalSpy failed(m_window->bridge(), &EngineBridge::failed);
    m_window->loadWeights(m_broken);
    QTRY_COMPARE_WITH_TIMEOUT(failed.count(), 1, 10000);
    QCOMPARE(failed.first().at(2).value<Origin>(), Origin::User);
    QTRY_VERIFY(failureBox() != nullptr);
    QVERIFY(failureBox()->text().contains(QStringLiteral("latest.h5")));
}

void TestFailureOrigins::resumingAFolderWithoutARunSaysWhyInThePanel() {
    const QString empty = m_dir.filePath(QStringLiteral("empty"));
    QVERIFY(QDir().mkpath(empty));
    QSignalSpy finished(m_window->bridge(), &EngineBridge::trainingFinished);
    QSignalSpy started(m_window->bridge(), &EngineBridge::trainingStarted);
    m_window->trainingPanel()->resumeRun(empty);
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 10000);
    QCOMPARE(started.count(), 0);
    const auto result = finished.first().at(0).value<TrainingResult>();
    QVERIFY(!result.error.empty());
    QVERIFY(QString::fromStdString(result.error).contains(QStringLiteral("empty")));
    QVERIFY(m_window->trainingPanel()->statusText().startsWith(QStringLiteral("Stopped: ")));
    QVERIFY(!m_window->bridge()->isTraining());
}

void TestFailureOrigins::resumingReadsTheRunAndPlansItsEpochs() {
    QSignalSpy started(m_window->bridge(), &EngineBridge::trainingStarted);
    QSignalSpy epochs(m_window->bridge(), &EngineBridge::epochEnded);
    QSignalSpy finished(m_window->bridge(), &EngineBridge::trainingFinished);
    m_window->trainingPanel()->resumeRun(m_run);
    QTRY_COMPARE_WITH_TIMEOUT(started.count(), 1, 10000);
    QCOMPARE(started.first().at(1).toInt(), 3);
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 120000);
    const auto result = finished.first().at(0).value<TrainingResult>();
    QVERIFY2(result.error.empty(), result.error.c_str());
    QCOMPARE(result.epochsCompleted, 3);
    // The one epoch already done is replayed, then two are trained.
    QCOMPARE(epochs.count(), 3);
}

void TestFailureOrigins::anEvaluationCanBeCancelled() {
    EvaluationPanel* panel = m_window->evaluationPanel();
    panel->setSource(m_run + QStringLiteral("/weights.h5"), m_data);
    QSignalSpy evaluated(m_window->bridge(), &EngineBridge::evaluated);
    panel->evaluate();
    QVERIFY(panel->isRunning());
    panel->cancel();
    QTRY_COMPARE_WITH_TIMEOUT(evaluated.count(), 1, 30000);
    QVERIFY(evaluated.first().at(0).value<Evaluation>().cancelled);
    QVERIFY(!panel->isRunning());
    QCOMPARE(panel->summaryText(), QStringLiteral("Evaluation cancelled."));
    // And a later one runs to the end.
    panel->evaluate();
    QTRY_COMPARE_WITH_TIMEOUT(evaluated.count(), 2, 30000);
    const auto e = evaluated.last().at(0).value<Evaluation>();
    QVERIFY(!e.cancelled);
    QVERIFY(e.samples > 0);
    QVERIFY(!panel->isRunning());
    QVERIFY(panel->summaryText().contains(QStringLiteral("accuracy")));
}

QTEST_MAIN(TestFailureOrigins)
#include "tst_failureorigins.moc"
