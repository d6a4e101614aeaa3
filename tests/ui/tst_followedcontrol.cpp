// Pause, Resume and Cancel from the window, on a data-parallel run of the real program started
// from the command line: the Training tab follows it and asks through its control.json; rank
// 0 reads it and the two ranks pause, go on and stop together.
#include "colourimages.h"
#include "train/runstatus.h"
#include "ui/mainwindow.h"
#include "ui/runs/runspanel.h"
#include "ui/training/trainingpanel.h"
#include "ui/training/trainingplots.h"

#include <QDir>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QPushButton>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

#include <memory>

using namespace convscope;
using namespace convscope::ui;

class TestFollowedControl : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void aDataParallelRunIsPausedResumedAndCancelledFromTheWindow();
};

namespace {

/// Epochs in the run's history.csv (its header aside).
int epochsWritten(const QString& run) {
    QFile file(run + QStringLiteral("/history.csv"));
    if (!file.open(QIODevice::ReadOnly))
        return 0;
    return std::max(0, int(file.readAll().count('\n')) - 1);
}

bool pausedOnDisk(const QString& run) {
    const auto status = readRunStatus(run.toStdString());
    return status && status->paused;
}

}  // namespace

void TestFollowedControl::aDataParallelRunIsPausedResumedAndCancelledFromTheWindow() {
    QStandardPaths::setTestModeEnabled(true);
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString data = dir.filePath(QStringLiteral("colours"));
    QVERIFY(test::writeColourImages(data + QStringLiteral("/red"), QColor(200, 20, 30), 12));
    QVERIFY(test::writeColourImages(data + QStringLiteral("/blue"), QColor(20, 30, 200), 12));
    const QString workspace = dir.filePath(QStringLiteral("workspace"));
    const QString run = workspace + QStringLiteral("/parallel");
    QVERIFY(QDir().mkpath(workspace));

    // A short --dist-timeout: a pause longer than it must not break the group.
    QProcess cli;
    cli.start(
        QStringLiteral(CONVSCOPE_BINARY),
        {QStringLiteral("train"), data, QStringLiteral("--out"), run, QStringLiteral("--epochs"),
         QStringLiteral("100000"), QStringLiteral("--size"), QStringLiteral("32"),
         QStringLiteral("--batch"), QStringLiteral("4"), QStringLiteral("--no-augment"),
         QStringLiteral("--threads"), QStringLiteral("1"), QStringLiteral("--nproc-per-node"),
         QStringLiteral("2"), QStringLiteral("--dist-timeout"), QStringLiteral("3")});
    QVERIFY(cli.waitForStarted());
    QTRY_VERIFY_WITH_TIMEOUT(epochsWritten(run) >= 1, 60000);

    MainWindow window;
    window.show();
    window.runsPanel()->setWorkspace(workspace);
    window.openRun(run);
    TrainingPanel* training = window.trainingPanel();
    QTRY_VERIFY_WITH_TIMEOUT(
        training->statusText().contains(QStringLiteral("2 data-parallel processes")), 10000);
    QVERIFY(training->pauseButton()->isEnabled());
    QVERIFY(training->cancelButton()->isEnabled());

    QTest::mouseClick(training->pauseButton(), Qt::LeftButton);
    QVERIFY2(training->statusText().contains(QStringLiteral("Asked the run to pause")),
             qPrintable(training->statusText()));
    QTRY_VERIFY_WITH_TIMEOUT(pausedOnDisk(run), 10000);
    QTRY_VERIFY_WITH_TIMEOUT(training->statusText().contains(QStringLiteral("paused")), 10000);
    QTRY_COMPARE_WITH_TIMEOUT(training->pauseButton()->text(), QStringLiteral("&Resume"), 10000);
    // Paused longer than the timeout: no epoch is added and no rank gives up.
    const int pausedAt = epochsWritten(run);
    QTest::qWait(4000);
    QCOMPARE(epochsWritten(run), pausedAt);
    QCOMPARE(cli.state(), QProcess::Running);

    QTest::mouseClick(training->pauseButton(), Qt::LeftButton);
    QTRY_VERIFY_WITH_TIMEOUT(!pausedOnDisk(run), 10000);
    QTRY_VERIFY_WITH_TIMEOUT(epochsWritten(run) > pausedAt + 1, 30000);
    QCOMPARE(cli.state(), QProcess::Running);
    QTRY_COMPARE_WITH_TIMEOUT(training->pauseButton()->text(), QStringLiteral("&Pause"), 10000);

    QTest::mouseClick(training->cancelButton(), Qt::LeftButton);
    // The event loop of the QTRY checks may already have seen it end.
    QTRY_COMPARE_WITH_TIMEOUT(cli.state(), QProcess::NotRunning, 30000);
    QVERIFY2(
        cli.exitStatus() == QProcess::NormalExit && cli.exitCode() == 130,
        qPrintable(QStringLiteral("exit %1: %2")
                       .arg(cli.exitCode())
                       .arg(QString::fromLocal8Bit(
                           cli.readAllStandardError() +
                           cli.readAllStandardOutput().right(
                               600)))));  // both ranks stopped at the same step, as after Ctrl-C
    const auto status = readRunStatus(run.toStdString());
    QVERIFY(status && status->state == RunState::Interrupted);
    QVERIFY2(!cli.readAllStandardError().contains("broke"), "no rank lost the group");
    QTRY_VERIFY_WITH_TIMEOUT(training->statusText().contains(QStringLiteral("interrupted")), 10000);
    QTRY_VERIFY_WITH_TIMEOUT(!training->pauseButton()->isEnabled(), 10000);
    QVERIFY(!training->cancelButton()->isEnabled());
    QVERIFY(epochsWritten(run) < 100000);
}

QTEST_MAIN(TestFollowedControl)
#include "tst_followedcontrol.moc"
