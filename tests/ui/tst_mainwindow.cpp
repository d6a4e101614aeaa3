// Drives the real main window under the offscreen platform: drop a folder, tune
// augmentation, train, cancel, classify, evaluate. Also reports the longest GUI stall.
#include "stallmeter.h"
#include "ui/augment/augmentpanel.h"
#include "ui/classify/classifypanel.h"
#include "ui/dataset/classlistmodel.h"
#include "ui/dataset/datasetpanel.h"
#include "ui/dataset/flaggedfilesmodel.h"
#include "ui/evaluate/evaluationpanel.h"
#include "ui/mainwindow.h"
#include "ui/training/trainingpanel.h"
#include "ui/training/trainingplots.h"

#include <QDir>
#include <QDropEvent>
#include <QFile>
#include <QImage>
#include <QListWidget>
#include <QMimeData>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTest>
#include <QTimer>
#include <QUrl>

using namespace convscope;
using namespace convscope::ui;

namespace {

void writeColourImages(const QString& folder, const QColor& colour, int count) {
    QDir().mkpath(folder);
    for (int i = 0; i < count; ++i) {
        QImage img(24, 24, QImage::Format_RGB888);
        img.fill(QColor(qBound(0, colour.red() + i, 255), colour.green(),
                        qBound(0, colour.blue() + i, 255)));
        for (int y = 2; y < 8; ++y)
            for (int x = 2; x < 8; ++x)
                img.setPixelColor(x, y, Qt::white);  // something for a rotation to move
        QVERIFY(img.save(QStringLiteral("%1/%2.png").arg(folder).arg(i)));
    }
}

void dropFolder(QWidget* target, const QString& folder) {
    auto* mime = new QMimeData;
    mime->setUrls({QUrl::fromLocalFile(folder)});
    QDragEnterEvent enter(QPoint(10, 10), Qt::CopyAction, mime, Qt::LeftButton, Qt::NoModifier);
    QCoreApplication::sendEvent(target, &enter);
    QDropEvent drop(QPointF(10, 10), Qt::CopyAction, mime, Qt::LeftButton, Qt::NoModifier);
    QCoreApplication::sendEvent(target, &drop);
    delete mime;
}

}  // namespace

class TestMainWindow : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void droppedFolderFillsTheDatasetPanel();
    void changingAnAugmentationParameterRegeneratesThePreview();
    void trainingAddsPointsAndLearnsTheTinyDataset();
    void cancelStopsWithinOneBatch();
    void classifyingShowsTheExpectedLabel();
    void evaluationFillsTheConfusionMatrix();

private:
    QTemporaryDir m_dir;
    QString m_data;
    std::unique_ptr<MainWindow> m_window;
};

void TestMainWindow::initTestCase() {
    QStandardPaths::setTestModeEnabled(true);
    QVERIFY(m_dir.isValid());
    m_data = m_dir.filePath(QStringLiteral("colours"));
    writeColourImages(m_data + QStringLiteral("/red"), QColor(200, 20, 30), 20);
    writeColourImages(m_data + QStringLiteral("/blue"), QColor(20, 30, 200), 20);
    QFile junk(m_data + QStringLiteral("/red/notes.jpg"));
    QVERIFY(junk.open(QIODevice::WriteOnly));
    junk.write("not a picture");
    junk.close();
    m_window = std::make_unique<MainWindow>();
    m_window->resize(1280, 800);
    m_window->show();
}

void TestMainWindow::droppedFolderFillsTheDatasetPanel() {
    dropFolder(m_window.get(), m_data);
    QTRY_VERIFY_WITH_TIMEOUT(m_window->datasetPanel()->dataset() != nullptr, 10000);
    ClassListModel* classes = m_window->datasetPanel()->classModel();
    QCOMPARE(classes->rowCount(), 2);
    QCOMPARE(classes->index(0, 0).data().toString(), QStringLiteral("blue"));
    QCOMPARE(classes->index(1, 1).data().toInt() + classes->index(1, 2).data().toInt(), 20);
    FlaggedFilesModel* flagged = m_window->datasetPanel()->flaggedModel();
    QVERIFY(flagged->rowCount() >= 1);
    bool found = false;
    for (int r = 0; r < flagged->rowCount(); ++r)
        found =
            found || flagged->index(r, 0).data().toString().contains(QStringLiteral("notes.jpg"));
    QVERIFY(found);
}

void TestMainWindow::changingAnAugmentationParameterRegeneratesThePreview() {
    AugmentPanel* augment = m_window->augmentPanel();
    QTRY_VERIFY_WITH_TIMEOUT(!augment->previews().isEmpty(),
                             10000);  // the first image was previewed on import
    const QImage before = augment->previews().front();
    QSignalSpy updated(augment, &AugmentPanel::previewsUpdated);
    QVERIFY(augment->setParameter(QStringLiteral("rotation_range"), 90));
    QTRY_VERIFY_WITH_TIMEOUT(updated.count() >= 1, 5000);
    QCOMPARE(augment->previews().size(), 9);
    QVERIFY(augment->previews().front() != before);
    const QString out = m_dir.filePath(QStringLiteral("previews"));
    QCOMPARE(augment->savePreviews(out), 9);
    QCOMPARE(QDir(out).entryList(QDir::Files).size(), 9);
}

void TestMainWindow::trainingAddsPointsAndLearnsTheTinyDataset() {
    TrainingPanel* training = m_window->trainingPanel();
    training->setBasicSettings(32, 3, 8);
    training->setRunDirectory(m_dir.filePath(QStringLiteral("run1")));
    QSignalSpy epochs(m_window->bridge(), &EngineBridge::epochEnded);
    QSignalSpy finished(m_window->bridge(), &EngineBridge::trainingFinished);
    StallMeter stalls;
    training->start();
    QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 1, 120000);
    qInfo("longest GUI event-loop stall while training: %lld ms", stalls.longestMs());
    QCOMPARE(epochs.count(), 3);
    const auto last = epochs.last().at(0).value<EpochEnd>();
    QCOMPARE(last.validationAccuracy, 1.0);
    QTRY_VERIFY(training->plots()->batchPointCount() > 0);
    QCOMPARE(training->plots()->epochPointCount(), 3);
    QVERIFY(QFile::exists(m_dir.filePath(QStringLiteral("run1/weights.h5"))));
    const QString chart = m_dir.filePath(QStringLiteral("chart.png"));
    QVERIFY(training->plots()->exportTo(chart));
    QVERIFY(!QImage(chart).isNull());
}

void TestMainWindow::cancelStopsWithinOneBatch() {
    TrainingPanel* training = m_window->trainingPanel();
    training->setBasicSettings(32, 50, 2);
    training->setRunDirectory(m_dir.filePath(QStringLiteral("run2")));
    QSignalSpy batches(m_window->bridge(), &EngineBridge::batchEnded);
    QSignalSpy finished(m_window->bridge(), &EngineBridge::trainingFinished);
    training->start();
    QTRY_VERIFY_WITH_TIMEOUT(batches.count() >= 3, 60000);
    // Pause first: once the trainer says it has stopped, every batch it ran has been reported,
    // so the count after cancel is exact.
    QSignalSpy paused(m_window->bridge(), &EngineBridge::trainingPaused);
    training->togglePause();
    QTRY_VERIFY_WITH_TIMEOUT(!paused.isEmpty() && paused.last().at(0).toBool(), 30000);
    const int atCancel = batches.count();
    training->cancel();
    QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 1, 30000);
    QVERIFY(finished.last().at(0).value<TrainingResult>().cancelled);
    QCOMPARE(batches.count(), atCancel);  // no batch ran after the cancel
}

void TestMainWindow::classifyingShowsTheExpectedLabel() {
    ClassifyPanel* classify = m_window->classifyPanel();
    classify->setWeights(m_dir.filePath(QStringLiteral("run1/weights.h5")));
    classify->classify(m_data + QStringLiteral("/red/4.png"));
    QTRY_COMPARE_WITH_TIMEOUT(classify->topClass(), QStringLiteral("red"), 10000);
    QVERIFY(!classify->shownLines().isEmpty());
    classify->classify(m_data + QStringLiteral("/blue/7.png"));
    QTRY_COMPARE_WITH_TIMEOUT(classify->topClass(), QStringLiteral("blue"), 10000);
}

void TestMainWindow::evaluationFillsTheConfusionMatrix() {
    EvaluationPanel* evaluation = m_window->evaluationPanel();
    evaluation->setSource(m_dir.filePath(QStringLiteral("run1/weights.h5")), m_data);
    QSignalSpy done(evaluation, &EvaluationPanel::evaluated);
    evaluation->evaluate();
    QTRY_VERIFY_WITH_TIMEOUT(done.count() == 1, 30000);
    QCOMPARE(done.first().at(0).toDouble(), 1.0);
    QCOMPARE(evaluation->matrix()->rowCount(), 3);  // two classes and the precision row
    QCOMPARE(evaluation->matrix()->item(2, 0)->text(), QStringLiteral("1.000"));
    QCOMPARE(evaluation->matrix()->item(0, 0)->text().toInt() +
                 evaluation->matrix()->item(1, 1)->text().toInt(),
             8);
    evaluation->showCell(1, 1);
    QCOMPARE(evaluation->images()->count(), 4);
}

QTEST_MAIN(TestMainWindow)
#include "tst_mainwindow.moc"
