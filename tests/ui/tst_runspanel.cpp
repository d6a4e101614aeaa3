// The Runs dock: the runs of a workspace with their status and results, sorted and filtered,
// following the folder as runs appear and change on disk (no reload asked for), and opening
// a run's weights.
#include "colourimages.h"
#include "train/confusionrecord.h"
#include "train/runstatus.h"
#include "train/trainer.h"
#include "ui/classify/classifypanel.h"
#include "ui/engine/enginebridge.h"
#include "ui/mainwindow.h"
#include "ui/runs/comparedialog.h"
#include "ui/runs/followedrun.h"
#include "ui/runs/runsmodel.h"
#include "ui/runs/runspanel.h"
#include "ui/training/trainingpanel.h"
#include "ui/training/trainingplots.h"
#include "ui/training/qcustomplotinclude.h"

#include <QAbstractItemModelTester>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QRegularExpression>
#include <QSignalSpy>
#include <QTableWidget>
#include <QStandardPaths>
#include <QTableView>
#include <QTemporaryDir>
#include <QTest>
#include <QUndoStack>

#include <csignal>

using namespace convscope;
using namespace convscope::ui;

class TestRunsPanel : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void theWorkspacesRunsAreListedWithTheirResults();
    void aRunStartedElsewhereAppearsAndItsStatusFollows();
    void filteringAndSortingKeepTheModelSound();
    void openingARunClassifiesWithItsWeights();
    void comparingOverlaysTheCurvesAndListsOnlyTheSettingsThatDiffer();
    void anOpenComparisonsCurvesGrowAsARunTrainsElsewhere();
    void aRenamedRunShowsItsNameAndNote();
    void theComparisonShowsEachRunsConfusionMatrix();
    void aRunTrainedByAnotherProcessIsFollowedLive();
    void aDataParallelRunIsFollowedWithEachRanksThroughput();
    void aDeletedRunGoesToTheTrashAndUndoBringsItBack();
    void aFollowedRunMovedToTheTrashSaysSoAndUndoBringsItBack();
    void aMessageStaysUntilTheFollowedRunHasNews();
    void aDamagedRunsLineSaysWhy();
    void aRunningRunCannotBeDeleted();
    void theReportIsExportedAsHtmlAndPdf();

private:
    TrainConfig config(const QString& run, int epochs) const;

    QTemporaryDir m_dir;
    QString m_data;
    QString m_workspace;
    std::unique_ptr<MainWindow> m_window;
};

TrainConfig TestRunsPanel::config(const QString& run, int epochs) const {
    TrainConfig c;
    c.dataDir = m_data.toStdString();
    c.runDir = QDir(m_workspace).filePath(run).toStdString();
    c.model.inputSize = 32;
    c.epochs = epochs;
    c.batchSize = 8;
    c.augment = false;
    return c;
}

void TestRunsPanel::initTestCase() {
    QStandardPaths::setTestModeEnabled(true);
    QVERIFY(m_dir.isValid());
    m_data = m_dir.filePath(QStringLiteral("colours"));
    QVERIFY(test::writeColourImages(m_data + QStringLiteral("/red"), QColor(200, 20, 30), 12));
    QVERIFY(test::writeColourImages(m_data + QStringLiteral("/blue"), QColor(20, 30, 200), 12));
    m_workspace = m_dir.filePath(QStringLiteral("workspace"));
    QVERIFY(Trainer(config(QStringLiteral("alpha"), 2), nullptr).run().epochsCompleted == 2);
    QVERIFY(QDir().mkpath(m_workspace + QStringLiteral("/broken")));
    QFile broken(m_workspace + QStringLiteral("/broken/config.json"));
    QVERIFY(broken.open(QIODevice::WriteOnly));
    broken.write("{");
    broken.close();
    m_window = std::make_unique<MainWindow>();
    m_window->show();
    QSignalSpy listed(m_window->runsPanel(), &RunsPanel::listed);
    m_window->runsPanel()->setWorkspace(m_workspace);
    QTRY_VERIFY_WITH_TIMEOUT(!listed.isEmpty() && listed.last().at(0).toInt() == 2, 10000);
}

void TestRunsPanel::theWorkspacesRunsAreListedWithTheirResults() {
    RunsModel* model = m_window->runsPanel()->model();
    QCOMPARE(model->rowCount(), 2);
    QMap<QString, int> rows;
    for (int row = 0; row < model->rowCount(); ++row)
        rows[model->data(model->index(row, RunsModel::Name)).toString()] = row;
    const int alpha = rows.value(QStringLiteral("alpha"), -1);
    QVERIFY(alpha >= 0);
    QCOMPARE(model->data(model->index(alpha, RunsModel::Status)).toString(),
             QStringLiteral("finished"));
    QCOMPARE(model->data(model->index(alpha, RunsModel::Epochs)).toString(), QStringLiteral("2/2"));
    QCOMPARE(model->data(model->index(alpha, RunsModel::Architecture)).toString(),
             QStringLiteral("small"));
    QVERIFY(!model->data(model->index(alpha, RunsModel::FinalAccuracy)).toString().isEmpty());
    const int broken = rows.value(QStringLiteral("broken"), -1);
    QVERIFY(broken >= 0);
    QCOMPARE(model->data(model->index(broken, RunsModel::Status)).toString(),
             QStringLiteral("damaged"));
    QVERIFY(model->data(model->index(broken, 0), Qt::ToolTipRole)
                .toString()
                .contains(QStringLiteral("config.json")));
}

void TestRunsPanel::aRunStartedElsewhereAppearsAndItsStatusFollows() {
    RunsPanel* panel = m_window->runsPanel();
    QSignalSpy listed(panel, &RunsPanel::listed);
    // Another "process": a run written into the workspace while the window watches it.
    TrainConfig c = config(QStringLiteral("beta"), 1);
    Trainer(c, nullptr).run();
    QTRY_VERIFY_WITH_TIMEOUT(panel->shownRuns().contains(QString::fromStdString(
                                 std::filesystem::absolute(c.runDir).lexically_normal().string())),
                             10000);
    QVERIFY(!listed.isEmpty());  // read again on its own: nobody asked for a reload
    // Its status changes on disk (a process on another machine takes it up again): the row
    // follows.
    RunStatus s = *readRunStatus(c.runDir);
    s.state = RunState::Running;
    s.ended.clear();
    s.host = "elsewhere";
    writeRunStatus(c.runDir, s);
    RunsModel* model = panel->model();
    auto statusOfBeta = [model] {
        for (int row = 0; row < model->rowCount(); ++row)
            if (model->data(model->index(row, RunsModel::Name)).toString() == QLatin1String("beta"))
                return model->data(model->index(row, RunsModel::Status)).toString();
        return QString();
    };
    QTRY_COMPARE_WITH_TIMEOUT(statusOfBeta(), QStringLiteral("running"), 10000);
}

void TestRunsPanel::filteringAndSortingKeepTheModelSound() {
    RunsPanel* panel = m_window->runsPanel();
    QAbstractItemModelTester tester(panel->view()->model(),
                                    QAbstractItemModelTester::FailureReportingMode::QtTest);
    const int all = int(panel->shownRuns().size());
    QVERIFY(all >= 3);
    panel->setFilter(QStringLiteral("damaged"));
    QCOMPARE(panel->shownRuns().size(), 1);
    QVERIFY(panel->shownRuns().front().endsWith(QStringLiteral("broken")));
    panel->setFilter(QString());
    QCOMPARE(int(panel->shownRuns().size()), all);
    panel->view()->sortByColumn(RunsModel::Name, Qt::AscendingOrder);
    QVERIFY(panel->shownRuns().front().endsWith(QStringLiteral("alpha")));
    panel->view()->sortByColumn(RunsModel::Name, Qt::DescendingOrder);
    QVERIFY(panel->shownRuns().front().endsWith(QStringLiteral("broken")));
}

void TestRunsPanel::openingARunClassifiesWithItsWeights() {
    m_window->openRun(m_workspace + QStringLiteral("/alpha"));
    QCOMPARE(m_window->classifyPanel()->weights(),
             m_workspace + QStringLiteral("/alpha/weights.h5"));
}

void TestRunsPanel::comparingOverlaysTheCurvesAndListsOnlyTheSettingsThatDiffer() {
    TrainConfig c = config(QStringLiteral("gamma"), 3);
    c.learningRate = 3e-3;
    Trainer(c, nullptr).run();
    RunsPanel* panel = m_window->runsPanel();
    panel->setFilter(QString());
    QTRY_VERIFY_WITH_TIMEOUT(panel->shownRuns().size() == 4, 10000);
    QList<int> rows;
    QStringList names;
    for (int row = 0; row < panel->shownRuns().size(); ++row) {
        const QString name = QFileInfo(panel->shownRuns()[row]).fileName();
        if (name == QLatin1String("alpha") || name == QLatin1String("beta") ||
            name == QLatin1String("gamma")) {
            rows << row;
            names << name;
        }
    }
    QCOMPARE(rows.size(), 3);
    panel->selectRows(rows);
    QSignalSpy shown(panel, &RunsPanel::comparisonShown);
    panel->compareSelected();
    QTRY_COMPARE_WITH_TIMEOUT(shown.count(), 1, 10000);
    auto* dialog = shown.first().at(0).value<CompareDialog*>();
    QVERIFY(dialog->isVisible());
    for (QCustomPlot* plot : {dialog->accuracyPlot(), dialog->lossPlot()}) {
        QCOMPARE(plot->graphCount(), 3);
        QStringList legend;
        for (int g = 0; g < plot->graphCount(); ++g)
            legend << plot->graph(g)->name();
        QCOMPARE(legend, names);
        QSet<QRgb> colours;
        for (int g = 0; g < plot->graphCount(); ++g)
            colours.insert(plot->graph(g)->pen().color().rgb());
        QCOMPARE(colours.size(), 3);
    }
    // alpha and beta: 2 and 1 epochs; gamma: 3 epochs at another learning rate.
    QStringList keys;
    for (int row = 0; row < dialog->settings()->rowCount(); ++row)
        keys << dialog->settings()->verticalHeaderItem(row)->text();
    QCOMPARE(keys, (QStringList{QStringLiteral("epochs"), QStringLiteral("learning_rate")}));
    QCOMPARE(dialog->settings()->columnCount(), 3);
    dialog->close();
}

void TestRunsPanel::anOpenComparisonsCurvesGrowAsARunTrainsElsewhere() {
    RunsPanel* panel = m_window->runsPanel();
    QList<int> rows;
    for (int row = 0; row < panel->shownRuns().size(); ++row) {
        const QString name = QFileInfo(panel->shownRuns()[row]).fileName();
        if (name == QLatin1String("beta") || name == QLatin1String("gamma"))
            rows << row;
    }
    QCOMPARE(rows.size(), 2);
    panel->selectRows(rows);
    QSignalSpy shown(panel, &RunsPanel::comparisonShown);
    panel->compareSelected();
    QTRY_COMPARE_WITH_TIMEOUT(shown.count(), 1, 10000);
    auto* dialog = shown.first().at(0).value<CompareDialog*>();
    QCPGraph* beta = nullptr;
    for (int g = 0; g < dialog->accuracyPlot()->graphCount(); ++g)
        if (dialog->accuracyPlot()->graph(g)->name() == QLatin1String("beta"))
            beta = dialog->accuracyPlot()->graph(g);
    QVERIFY(beta);
    QCOMPARE(beta->data()->size(), 1);
    // Another process finishes beta's next epoch: history.csv is replaced, as the trainer
    // replaces it (a new file renamed over the old one).
    const QString history = m_workspace + QStringLiteral("/beta/history.csv");
    QFile in(history);
    QVERIFY(in.open(QIODevice::ReadOnly));
    QByteArray text = in.readAll();
    in.close();
    text += "2,0.5,0.75,0.6,0.625,0.001,1.0\n";
    QFile out(history + QStringLiteral(".tmp"));
    QVERIFY(out.open(QIODevice::WriteOnly));
    out.write(text);
    out.close();
    QVERIFY(QFile::remove(history));
    QVERIFY(QFile::rename(history + QStringLiteral(".tmp"), history));
    QTRY_COMPARE_WITH_TIMEOUT(beta->data()->size(), 2, 10000);
    QCOMPARE(beta->data()->at(1)->value, 0.625);
    QCOMPARE(shown.count(), 1);  // the same window, grown: not a new one
    dialog->close();
}

void TestRunsPanel::aRenamedRunShowsItsNameAndNote() {
    RunsPanel* panel = m_window->runsPanel();
    panel->labelRun(m_workspace + QStringLiteral("/alpha"), QStringLiteral("baseline"),
                    QStringLiteral("no augmentation"));
    RunsModel* model = panel->model();
    auto row = [model](const QString& name) {
        for (int r = 0; r < model->rowCount(); ++r)
            if (model->data(model->index(r, RunsModel::Name)).toString() == name)
                return r;
        return -1;
    };
    QTRY_VERIFY_WITH_TIMEOUT(row(QStringLiteral("baseline")) >= 0, 10000);
    QCOMPARE(row(QStringLiteral("alpha")), -1);
    QVERIFY(model->data(model->index(row(QStringLiteral("baseline")), 0), Qt::ToolTipRole)
                .toString()
                .contains(QStringLiteral("no augmentation")));
}

namespace {

/// The row shown for the run named `name`, or -1.
int rowNamed(RunsPanel* panel, const QString& name) {
    for (int row = 0; row < panel->shownRuns().size(); ++row)
        if (QFileInfo(panel->shownRuns()[row]).fileName() == name)
            return row;
    return -1;
}

std::int64_t total(const QTableWidget* table, int classes) {
    std::int64_t n = 0;
    for (int t = 0; t < classes; ++t)
        for (int p = 0; p < classes; ++p)
            n += table->item(t, p)->text().toLongLong();
    return n;
}

}  // namespace

void TestRunsPanel::theComparisonShowsEachRunsConfusionMatrix() {
    RunsPanel* panel = m_window->runsPanel();
    panel->setFilter(QString());
    const QList<int> rows{rowNamed(panel, QStringLiteral("alpha")),
                          rowNamed(panel, QStringLiteral("gamma"))};
    QVERIFY(!rows.contains(-1));
    panel->selectRows(rows);
    QSignalSpy shown(panel, &RunsPanel::comparisonShown);
    panel->compareSelected();
    QTRY_COMPARE_WITH_TIMEOUT(shown.count(), 1, 10000);
    auto* dialog = shown.first().at(0).value<CompareDialog*>();
    dialog->showTab(1);
    for (int r = 0; r < 2; ++r) {
        const QString dir = dialog->runDirs()[r];
        const std::optional<ConfusionRecord> record = readConfusionRecord(dir.toStdString());
        QVERIFY2(record, qPrintable(dir));  // the trainer keeps the last epoch's matrix
        QTableWidget* table = dialog->confusionTable(r);
        QVERIFY(table->isVisible());
        // Two classes, plus recall as a column and precision as a row.
        QCOMPARE(table->rowCount(), 3);
        QCOMPARE(table->columnCount(), 3);
        QCOMPARE(table->verticalHeaderItem(0)->text(), QStringLiteral("0  blue"));
        for (int t = 0; t < 2; ++t)
            for (int p = 0; p < 2; ++p)
                QCOMPARE(table->item(t, p)->text().toLongLong(),
                         record->matrix[std::size_t(t)][std::size_t(p)]);
        QCOMPARE(total(table, 2), 4);  // the validation split: 2 of each class's 12 images
        QVERIFY(dialog->confusionCaption(r)->text().contains(
            QStringLiteral("epoch %1").arg(record->epoch)));
    }
    dialog->close();
}

void TestRunsPanel::aRunTrainedByAnotherProcessIsFollowedLive() {
    RunsPanel* panel = m_window->runsPanel();
    panel->setFilter(QString());
    // The real command-line program trains "delta" in a process of its own.
    QProcess cli;
    const QString run = QDir(m_workspace).filePath(QStringLiteral("delta"));
    cli.start(
        QStringLiteral(CONVSCOPE_BINARY),
        {QStringLiteral("train"), m_data, QStringLiteral("--out"), run, QStringLiteral("--epochs"),
         QStringLiteral("4"), QStringLiteral("--size"), QStringLiteral("32"),
         QStringLiteral("--batch"), QStringLiteral("4"), QStringLiteral("--no-augment"),
         QStringLiteral("--threads"), QStringLiteral("1"), QStringLiteral("--json")});
    QVERIFY(cli.waitForStarted());
    // Held still (SIGSTOP) once its first epoch is written, so that the window is seen to
    // follow it mid-run.
    bool firstEpoch = false;
    while (!firstEpoch && cli.waitForReadyRead(60000)) {
        while (cli.canReadLine()) {
            const QJsonObject event = QJsonDocument::fromJson(cli.readLine()).object();
            if (event.value(QStringLiteral("event")).toString() == QLatin1String("epoch"))
                firstEpoch = true;
        }
    }
    QVERIFY(firstEpoch);
    ::kill(pid_t(cli.processId()), SIGSTOP);

    // The dock lists it as running, by that process on this host.
    RunsModel* model = panel->model();
    auto rowOfDelta = [model] {
        for (int r = 0; r < model->rowCount(); ++r)
            if (model->data(model->index(r, RunsModel::Name)).toString() == QLatin1String("delta"))
                return r;
        return -1;
    };
    QTRY_VERIFY_WITH_TIMEOUT(rowOfDelta() >= 0, 10000);
    QCOMPARE(model->data(model->index(rowOfDelta(), RunsModel::Status)).toString(),
             QStringLiteral("running"));
    QCOMPARE(model->data(model->index(rowOfDelta(), RunsModel::TrainedBy)).toString(),
             QStringLiteral("process %1 on %2")
                 .arg(cli.processId())
                 .arg(QString::fromStdString(hostName())));

    panel->selectRows(
        {rowNamed(panel, QStringLiteral("alpha")), rowNamed(panel, QStringLiteral("delta"))});
    QSignalSpy shown(panel, &RunsPanel::comparisonShown);
    panel->compareSelected();
    QTRY_COMPARE_WITH_TIMEOUT(shown.count(), 1, 10000);
    auto* dialog = shown.first().at(0).value<CompareDialog*>();
    const int delta = int(dialog->runDirs().indexOf(
        QString::fromStdString(std::filesystem::absolute(run.toStdString()).string())));
    QVERIFY(delta >= 0);
    QCPGraph* curve = dialog->accuracyPlot()->graph(delta);
    const int seenWhileStopped = curve->data()->size();
    QVERIFY(seenWhileStopped >= 1 && seenWhileStopped < 4);
    // Opened, its curves are on the Training tab too, and the tab says who trains it.
    m_window->openRun(run);
    TrainingPanel* training = m_window->trainingPanel();
    QTRY_COMPARE_WITH_TIMEOUT(training->plots()->epochPointCount(), seenWhileStopped, 10000);
    QCOMPARE(training->shownRun(), dialog->runDirs()[delta]);
    QVERIFY2(training->statusText().contains(
                 QStringLiteral("trained by process %1 on").arg(cli.processId())),
             qPrintable(training->statusText()));

    // Let it go on: the curves grow and the confusion matrix follows to the last epoch,
    // without any reload asked for.
    ::kill(pid_t(cli.processId()), SIGCONT);
    QVERIFY(cli.waitForFinished(120000));
    QCOMPARE(cli.exitCode(), 0);
    QTRY_COMPARE_WITH_TIMEOUT(curve->data()->size(), 4, 10000);
    QCOMPARE(dialog->lossPlot()->graph(delta)->data()->size(), 4);
    QTRY_COMPARE_WITH_TIMEOUT(training->plots()->epochPointCount(), 4, 10000);
    QTRY_VERIFY_WITH_TIMEOUT(training->statusText().contains(QStringLiteral("finished")), 10000);
    QTRY_VERIFY_WITH_TIMEOUT(
        dialog->confusionCaption(delta)->text().contains(QStringLiteral("epoch 4")), 10000);
    QCOMPARE(shown.count(), 1);
    QTRY_COMPARE_WITH_TIMEOUT(model->data(model->index(rowOfDelta(), RunsModel::Status)).toString(),
                              QStringLiteral("finished"), 10000);
    dialog->close();
}

void TestRunsPanel::aDataParallelRunIsFollowedWithEachRanksThroughput() {
    // Two processes of the real program, started as `convscope train --nproc-per-node 2`.
    QProcess cli;
    const QString run = QDir(m_workspace).filePath(QStringLiteral("parallel"));
    cli.start(QStringLiteral(CONVSCOPE_BINARY),
              {QStringLiteral("train"), m_data, QStringLiteral("--out"), run,
               QStringLiteral("--epochs"), QStringLiteral("3"), QStringLiteral("--size"),
               QStringLiteral("32"), QStringLiteral("--batch"), QStringLiteral("4"),
               QStringLiteral("--no-augment"), QStringLiteral("--nproc-per-node"),
               QStringLiteral("2"), QStringLiteral("--json")});
    QVERIFY(cli.waitForStarted());
    bool firstEpoch = false;
    while (!firstEpoch && cli.waitForReadyRead(60000))
        while (cli.canReadLine())
            if (QJsonDocument::fromJson(cli.readLine())
                    .object()
                    .value(QStringLiteral("event"))
                    .toString() == QLatin1String("epoch"))
                firstEpoch = true;
    QVERIFY2(firstEpoch, cli.readAllStandardError().constData());
    m_window->openRun(run);
    TrainingPanel* training = m_window->trainingPanel();
    QTRY_VERIFY_WITH_TIMEOUT(
        training->statusText().contains(QStringLiteral("2 data-parallel processes at")), 10000);
    QVERIFY(cli.waitForFinished(120000));
    QCOMPARE(cli.exitCode(), 0);
    // The charts grew with rank 0's files to the last epoch.
    QTRY_COMPARE_WITH_TIMEOUT(training->plots()->epochPointCount(), 3, 10000);
    QTRY_VERIFY_WITH_TIMEOUT(training->statusText().contains(QStringLiteral("finished")), 10000);
    const QRegularExpression rates(QStringLiteral("at \\d+, \\d+ images/s"));
    QVERIFY2(rates.match(training->statusText()).hasMatch(), qPrintable(training->statusText()));
}

void TestRunsPanel::aDeletedRunGoesToTheTrashAndUndoBringsItBack() {
    RunsPanel* panel = m_window->runsPanel();
    panel->setFilter(QString());
    const QString gamma = m_workspace + QStringLiteral("/gamma");
    QVERIFY(QFileInfo::exists(gamma + QStringLiteral("/weights.h5")));
    QSignalSpy failed(panel, &RunsPanel::failed);
    panel->trashRun(gamma);
    QCOMPARE(failed.count(), 0);
    QVERIFY(!QFileInfo::exists(gamma));
    QTRY_COMPARE_WITH_TIMEOUT(rowNamed(panel, QStringLiteral("gamma")), -1, 10000);
    QVERIFY(panel->undoStack()->canUndo());
    QVERIFY(panel->undoStack()->undoText().contains(QStringLiteral("gamma")));

    panel->undoStack()->undo();
    QCOMPARE(failed.count(), 0);
    QVERIFY(QFileInfo::exists(gamma + QStringLiteral("/weights.h5")));
    QTRY_VERIFY_WITH_TIMEOUT(rowNamed(panel, QStringLiteral("gamma")) >= 0, 10000);
    // Redo moves it away again, and undo brings it back again.
    panel->undoStack()->redo();
    QVERIFY(!QFileInfo::exists(gamma));
    panel->undoStack()->undo();
    QVERIFY(QFileInfo::exists(gamma + QStringLiteral("/config.json")));
    QCOMPARE(failed.count(), 0);
}

void TestRunsPanel::aFollowedRunMovedToTheTrashSaysSoAndUndoBringsItBack() {
    RunsPanel* panel = m_window->runsPanel();
    panel->setFilter(QString());
    const QString gamma = m_workspace + QStringLiteral("/gamma");
    QVERIFY(QFileInfo::exists(gamma + QStringLiteral("/weights.h5")));
    m_window->openRun(gamma);
    TrainingPanel* training = m_window->trainingPanel();
    QTRY_VERIFY_WITH_TIMEOUT(
        training->statusText().startsWith(QStringLiteral("Run “gamma”: finished")), 10000);
    QTRY_COMPARE_WITH_TIMEOUT(training->plots()->epochPointCount(), 3, 10000);

    // Moved away while the Training tab follows it: the line says where it was, not "damaged",
    // and its curves stay.
    panel->trashRun(gamma);
    QVERIFY(!QFileInfo::exists(gamma));
    QTRY_VERIFY_WITH_TIMEOUT(training->statusText().contains(QStringLiteral("is no longer in")),
                             10000);
    QVERIFY2(training->statusText().contains(QDir(gamma).absolutePath()),
             qPrintable(training->statusText()));
    QVERIFY2(!training->statusText().contains(QStringLiteral("damaged")),
             qPrintable(training->statusText()));
    QCOMPARE(training->plots()->epochPointCount(), 3);
    QVERIFY(!training->pauseButton()->isEnabled());

    // Undo brings it back, and the tab follows it again.
    panel->undoStack()->undo();
    QVERIFY(QFileInfo::exists(gamma + QStringLiteral("/weights.h5")));
    QTRY_VERIFY_WITH_TIMEOUT(
        training->statusText().startsWith(QStringLiteral("Run “gamma”: finished")), 10000);
    QCOMPARE(training->plots()->epochPointCount(), 3);
}

void TestRunsPanel::aMessageStaysUntilTheFollowedRunHasNews() {
    RunsPanel* panel = m_window->runsPanel();
    const QString gamma = m_workspace + QStringLiteral("/gamma");
    QSignalSpy followed(m_window->bridge(), &EngineBridge::runFollowed);
    m_window->openRun(gamma);
    QTRY_VERIFY_WITH_TIMEOUT(!followed.isEmpty(), 10000);
    // Until no reply has come for 300 ms: those to earlier requests (the listings after the
    // last test's undo, this opening) are all in.
    for (int i = 0; i < 30 && !followed.isEmpty(); ++i) {
        followed.clear();
        QTest::qWait(300);
    }
    QVERIFY(followed.isEmpty());
    TrainingPanel* training = m_window->trainingPanel();
    QVERIFY2(training->statusText().startsWith(QStringLiteral("Run “gamma”: finished")),
             qPrintable(training->statusText()));
    // A message of the window's own (as when starting weights are described), then the
    // workspace is read again with nothing new about the run: the message stays.
    const QString message = QStringLiteral("Starting weights model.json: architecture mobilenetv2");
    training->statusLabel()->setText(message);
    followed.clear();
    panel->refresh();
    QTRY_VERIFY_WITH_TIMEOUT(!followed.isEmpty(), 10000);
    QCOMPARE(training->statusText(), message);
    // News of the run (a new name) replaces it.
    panel->labelRun(gamma, QStringLiteral("gamma-renamed"), QString());
    QTRY_VERIFY_WITH_TIMEOUT(
        training->statusText().startsWith(QStringLiteral("Run “gamma-renamed”: finished")), 10000);
    // Opening the run again shows its line whatever was there.
    training->statusLabel()->setText(message);
    m_window->openRun(gamma);
    QTRY_VERIFY_WITH_TIMEOUT(
        training->statusText().startsWith(QStringLiteral("Run “gamma-renamed”: finished")), 10000);
    panel->labelRun(gamma, QString(), QString());
    QTRY_VERIFY_WITH_TIMEOUT(
        training->statusText().startsWith(QStringLiteral("Run “gamma”: finished")), 10000);
}

void TestRunsPanel::aDamagedRunsLineSaysWhy() {
    const RunSummary broken = describeRun((m_workspace + QStringLiteral("/broken")).toStdString());
    QCOMPARE(QString::fromStdString(broken.status), QStringLiteral("damaged"));
    const QString line = followedRunStatus(broken);
    QVERIFY2(line.startsWith(QStringLiteral("Run “broken”: damaged (")), qPrintable(line));
    QVERIFY2(line.contains(QStringLiteral("config.json")), qPrintable(line));
}

void TestRunsPanel::aRunningRunCannotBeDeleted() {
    RunsPanel* panel = m_window->runsPanel();
    // beta's status.json says another host trains it (set above).
    QTRY_VERIFY_WITH_TIMEOUT(rowNamed(panel, QStringLiteral("beta")) >= 0, 10000);
    RunStatus s = *readRunStatus((m_workspace + QStringLiteral("/beta")).toStdString());
    s.state = RunState::Running;
    s.host = "elsewhere";
    writeRunStatus((m_workspace + QStringLiteral("/beta")).toStdString(), s);
    panel->refresh();
    RunsModel* model = panel->model();
    QTRY_VERIFY_WITH_TIMEOUT(
        [&] {
            for (int r = 0; r < model->rowCount(); ++r)
                if (model->run(r).name == "beta")
                    return model->run(r).status == "running";
            return false;
        }(),
        10000);
    QSignalSpy failed(panel, &RunsPanel::failed);
    const int undoable = panel->undoStack()->count();
    panel->trashRun(m_workspace + QStringLiteral("/beta"));
    QCOMPARE(failed.count(), 1);
    QVERIFY(failed.first().at(1).toString().contains(QStringLiteral("elsewhere")));
    QVERIFY(QFileInfo::exists(m_workspace + QStringLiteral("/beta/config.json")));
    QCOMPARE(panel->undoStack()->count(), undoable);
}

void TestRunsPanel::theReportIsExportedAsHtmlAndPdf() {
    RunsPanel* panel = m_window->runsPanel();
    const QString alpha = m_workspace + QStringLiteral("/alpha");
    QSignalSpy exported(panel, &RunsPanel::reportExported);
    const QString html = m_dir.filePath(QStringLiteral("alpha.html"));
    panel->exportReport(alpha, html);
    QTRY_COMPARE_WITH_TIMEOUT(exported.count(), 1, 30000);
    QFile page(html);
    QVERIFY(page.open(QIODevice::ReadOnly));
    const QByteArray text = page.readAll();
    QVERIFY(text.contains("<h2>Confusion matrix</h2>"));
    const int images = int(text.count("<img "));
    QVERIFY(images >= 4);  // two charts, activation maps

    // The PDF: laid out by Qt with every picture in it (each embedded as an image; the charts,
    // drawn with transparency, bring a soft mask each as well).
    const QString pdf = m_dir.filePath(QStringLiteral("alpha.pdf"));
    panel->exportReport(alpha, pdf);
    QTRY_COMPARE_WITH_TIMEOUT(exported.count(), 2, 30000);
    QFile out(pdf);
    QVERIFY(out.open(QIODevice::ReadOnly));
    const QByteArray bytes = out.readAll();
    QVERIFY(bytes.startsWith("%PDF-"));
    QVERIFY(bytes.trimmed().endsWith("%%EOF"));
    const int masks = int(
        QString::fromLatin1(bytes).count(QRegularExpression(QStringLiteral("/SMask \\d+ 0 R"))));
    QCOMPARE(int(bytes.count("/Subtype /Image")) - masks, images);
}

QTEST_MAIN(TestRunsPanel)
#include "tst_runspanel.moc"
