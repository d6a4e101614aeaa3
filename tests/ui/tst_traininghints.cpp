// The hints a learner gets while setting up and watching a run: what the batch size means
// for the data and for memory, the overfitting warning on the charts, and the suggestion to
// fine-tune a pretrained backbone when classes are small. Plain helpers first, then the real
// main window under the offscreen platform.
#include "colourimages.h"
#include "models/modelconfig.h"
#include "ui/help/focushighlight.h"
#include "ui/mainwindow.h"
#include "ui/training/batchhint.h"
#include "ui/training/batchplan.h"
#include "ui/training/overfitdetector.h"
#include "ui/training/overfitmarker.h"
#include "ui/training/trainingpanel.h"
#include "ui/training/trainingplots.h"
#include "ui/training/transferadvice.h"

#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

#include "ui/training/qcustomplotinclude.h"

using namespace convscope;
using namespace convscope::ui;

namespace {

std::vector<EpochEnd> epochs(const QList<double>& trainAccuracy,
                             const QList<double>& validationAccuracy,
                             const QList<int>& phases = {}) {
    std::vector<EpochEnd> out;
    for (int i = 0; i < trainAccuracy.size(); ++i) {
        EpochEnd e;
        e.epoch = i + 1;
        e.trainAccuracy = trainAccuracy[i];
        e.validationAccuracy = validationAccuracy[i];
        // Loss mirrors accuracy here, so that the loss gap follows the accuracy gap.
        e.trainLoss = 1 - trainAccuracy[i];
        e.validationLoss = 1 - validationAccuracy[i];
        e.phase = phases.isEmpty() ? 0 : phases[i];
        out.push_back(e);
    }
    return out;
}

}  // namespace

class TestTrainingHints : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void batchPlanCountsUpdatesAndMemory_data();
    void batchPlanCountsUpdatesAndMemory();
    void activationEstimateComesFromTheLayerList();
    void overfittingRuleFiresOnAGrowingGap_data();
    void overfittingRuleFiresOnAGrowingGap();
    void lossGapIsMeasuredTheOtherWayRound();
    void overfittingIsMarkedOnTheChartAndSaidInWords();
    void fewImagesAdviceNamesTheSmallClasses();
    void smallDatasetShowsTheSuggestionAndTheBatchLine();
    void suggestionButtonLeadsToStartingWeights();
    void startingFromScratchRemindsOfTheSuggestion();
    void largeDatasetShowsNoSuggestion();

private:
    QTemporaryDir m_dir;
    std::unique_ptr<MainWindow> m_window;
};

void TestTrainingHints::initTestCase() {
    QStandardPaths::setTestModeEnabled(true);
    QVERIFY(m_dir.isValid());
    // 20 images a class: 16 for training, 4 for validation (the 0.2 split).
    const QString small = m_dir.filePath(QStringLiteral("small"));
    QVERIFY(test::writeColourImages(small + QStringLiteral("/red"), QColor(200, 20, 30), 20));
    QVERIFY(test::writeColourImages(small + QStringLiteral("/blue"), QColor(20, 30, 200), 20));
    // 140 images a class: 112 for training.
    const QString large = m_dir.filePath(QStringLiteral("large"));
    QVERIFY(test::writeColourImages(large + QStringLiteral("/red"), QColor(100, 20, 30), 140));
    QVERIFY(test::writeColourImages(large + QStringLiteral("/blue"), QColor(20, 30, 100), 140));
    m_window = std::make_unique<MainWindow>();
    m_window->resize(1280, 800);
    m_window->show();
}

void TestTrainingHints::batchPlanCountsUpdatesAndMemory_data() {
    QTest::addColumn<int>("trainImages");
    QTest::addColumn<int>("batch");
    QTest::addColumn<int>("size");
    QTest::addColumn<qint64>("batchesPerEpoch");
    QTest::addColumn<bool>("warning");
    QTest::addColumn<QString>("says");
    QTest::newRow("2000 images, batch 32")
        << 2000 << 32 << 150 << qint64(63) << false
        << QStringLiteral("2000 training images ÷ batch 32 = 63 updates per epoch.");
    QTest::newRow("exact multiple")
        << 64 << 32 << 64 << qint64(2) << true << QStringLiteral("= 2 updates per epoch");
    QTest::newRow("few updates") << 200 << 32 << 64 << qint64(7) << true
                                 << QStringLiteral("Very few updates per epoch");
    QTest::newRow("ten updates is enough")
        << 320 << 32 << 64 << qint64(10) << false << QStringLiteral("= 10 updates per epoch.");
    QTest::newRow("batch larger than the data")
        << 100 << 128 << 64 << qint64(1) << true
        << QStringLiteral("larger than the training set (100 images)");
    QTest::newRow("no dataset yet")
        << 0 << 32 << 64 << qint64(0) << false << QStringLiteral("Open a dataset");
    QTest::newRow("auto") << 500 << 0 << 64 << qint64(0) << false
                          << QStringLiteral("chosen when training starts");
}

void TestTrainingHints::batchPlanCountsUpdatesAndMemory() {
    QFETCH(int, trainImages);
    QFETCH(int, batch);
    QFETCH(int, size);
    QFETCH(qint64, batchesPerEpoch);
    QFETCH(bool, warning);
    QFETCH(QString, says);
    const BatchPlan plan = BatchPlan::make(trainImages, batch, size);
    QCOMPARE(plan.batchesPerEpoch, batchesPerEpoch);
    QCOMPARE(plan.hasWarning(), warning);
    QCOMPARE(plan.inputBytes, qint64(batch) * 3 * size * size * 4);
    QCOMPARE(plan.activationBytes, qint64(-1));  // no layers given
    QVERIFY2(plan.text().contains(says), qPrintable(plan.text()));
    if (batch > 0)
        QVERIFY(plan.text().contains(QStringLiteral("estimated")));
}

void TestTrainingHints::activationEstimateComesFromTheLayerList() {
    std::vector<LayerInfo> layers(2);
    layers[0].outputShape = {32, 62, 62};
    layers[0].parameters = 896;
    layers[1].outputShape = {10};
    layers[1].parameters = 100;
    const BatchPlan plan = BatchPlan::make(1000, 16, 64, layers);
    QCOMPARE(plan.activationBytes, qint64(2) * (32 * 62 * 62 + 10) * 4 * 16);
    QCOMPARE(plan.parameterBytes, qint64(996) * 16);
    QCOMPARE(plan.inputBytes, qint64(16) * 3 * 64 * 64 * 4);  // 768 KiB
    QVERIFY2(plan.text().contains(QStringLiteral("input 768 KiB, activations ≈ 15.0 MiB")),
             qPrintable(plan.text()));
    QCOMPARE(BatchPlan::bytesText(3ll << 30), QStringLiteral("3.0 GiB"));
}

void TestTrainingHints::overfittingRuleFiresOnAGrowingGap_data() {
    QTest::addColumn<QList<double>>("train");
    QTest::addColumn<QList<double>>("validation");
    QTest::addColumn<QList<int>>("phases");
    QTest::addColumn<bool>("found");
    QTest::addColumn<int>("since");
    QTest::addColumn<int>("last");
    QTest::newRow("learning well")
        << QList<double>{0.5, 0.6, 0.7, 0.8, 0.85} << QList<double>{0.5, 0.6, 0.69, 0.79, 0.84}
        << QList<int>{} << false << 0 << 0;
    QTest::newRow("validation stalls")
        << QList<double>{0.6, 0.7, 0.8, 0.9, 0.95} << QList<double>{0.6, 0.65, 0.66, 0.66, 0.66}
        << QList<int>{} << true << 1 << 5;
    QTest::newRow("only two epochs of growth")
        << QList<double>{0.6, 0.7, 0.8, 0.8, 0.8} << QList<double>{0.6, 0.65, 0.66, 0.7, 0.72}
        << QList<int>{} << false << 0 << 0;
    QTest::newRow("grows but stays under 5 points")
        << QList<double>{0.50, 0.51, 0.52, 0.53, 0.54} << QList<double>{0.5, 0.5, 0.5, 0.5, 0.5}
        << QList<int>{} << false << 0 << 0;
    QTest::newRow("starts again after a dip")
        << QList<double>{0.62, 0.68, 0.63, 0.65, 0.69, 0.72}
        << QList<double>{0.6, 0.6, 0.6, 0.6, 0.6, 0.6} << QList<int>{} << true << 3 << 6;
    QTest::newRow("a new phase starts afresh")
        << QList<double>{0.6, 0.66, 0.68, 0.7, 0.72} << QList<double>{0.6, 0.6, 0.6, 0.6, 0.6}
        << QList<int>{1, 1, 1, 2, 2} << false << 0 << 0;
    QTest::newRow("validation better at first")
        << QList<double>{0.42, 0.58, 0.68, 0.75, 0.81, 0.86}
        << QList<double>{0.45, 0.60, 0.68, 0.72, 0.73, 0.73} << QList<int>{} << true << 3 << 6;
    QTest::newRow("stays marked after it closes again")
        << QList<double>{0.6, 0.7, 0.8, 0.9, 0.9, 0.9}
        << QList<double>{0.6, 0.62, 0.63, 0.64, 0.8, 0.88} << QList<int>{} << true << 1 << 4;
}

void TestTrainingHints::overfittingRuleFiresOnAGrowingGap() {
    QFETCH(QList<double>, train);
    QFETCH(QList<double>, validation);
    QFETCH(QList<int>, phases);
    QFETCH(bool, found);
    QFETCH(int, since);
    QFETCH(int, last);
    const OverfitWarning w =
        OverfitDetector::detect(epochs(train, validation, phases), GapMetric::Accuracy);
    QCOMPARE(w.found, found);
    QCOMPARE(w.sinceEpoch, since);
    QCOMPARE(w.lastEpoch, last);
    if (found) {
        QCOMPARE(w.gap, train[last - 1] - validation[last - 1]);
        QVERIFY(OverfitDetector::describe(w, {}).contains(
            QStringLiteral("From epoch %1 to %2").arg(since).arg(last)));
    }
}

void TestTrainingHints::lossGapIsMeasuredTheOtherWayRound() {
    std::vector<EpochEnd> e(5);
    const double train[] = {0.9, 0.7, 0.5, 0.35, 0.25}, validation[] = {0.9, 0.8, 0.8, 0.85, 0.9};
    for (int i = 0; i < 5; ++i) {
        e[i].epoch = i + 1;
        e[i].trainLoss = train[i];
        e[i].validationLoss = validation[i];
        e[i].trainAccuracy = e[i].validationAccuracy = 0.7;  // no accuracy gap at all
    }
    const OverfitWarning loss = OverfitDetector::detect(e, GapMetric::Loss);
    QVERIFY(loss.found);
    QCOMPARE(loss.sinceEpoch, 1);
    QCOMPARE(loss.lastEpoch, 5);
    QCOMPARE(loss.gap, 0.9 - 0.25);
    QVERIFY(!OverfitDetector::detect(e, GapMetric::Accuracy).found);
    // Validation loss below training loss (dropout, augmentation) is no gap.
    for (auto& epoch : e)
        std::swap(epoch.trainLoss, epoch.validationLoss);
    QVERIFY(!OverfitDetector::detect(e, GapMetric::Loss).found);
}

void TestTrainingHints::overfittingIsMarkedOnTheChartAndSaidInWords() {
    TrainingPlots plots;
    plots.resize(700, 500);
    plots.show();
    QSignalSpy warned(&plots, &TrainingPlots::overfittingWarned);
    const auto run = epochs({0.55, 0.6, 0.7, 0.8, 0.9, 0.95}, {0.55, 0.6, 0.64, 0.66, 0.67, 0.67});
    for (std::size_t i = 0; i < 3; ++i)
        plots.addEpoch(run[i]);
    QVERIFY(!plots.accuracyMarker()->isShown());
    QVERIFY(plots.overfitNote()->isHidden());
    for (std::size_t i = 3; i < run.size(); ++i)
        plots.addEpoch(run[i]);
    // Gap 0, 0, .06, .14, .23, .28: grows from epoch 2 on.
    QVERIFY(plots.accuracyMarker()->isShown());
    QCOMPARE(plots.accuracyMarker()->fromEpoch(), 2.0);
    QCOMPARE(plots.accuracyMarker()->toEpoch(), 6.0);
    QVERIFY(plots.accuracyMarker()->label()->text().contains(QStringLiteral("epoch 2")));
    QVERIFY(plots.accuracyPlot()->hasItem(plots.accuracyMarker()->label()));
    QVERIFY(plots.lossMarker()->isShown());  // the loss mirrors it in this run
    QVERIFY(!plots.overfitNote()->isHidden());
    QVERIFY(plots.overfitNote()->text().startsWith(QStringLiteral("<b>Overfitting?</b>")));
    QVERIFY(plots.overfitNote()->text().contains(QStringLiteral("From epoch 2 to 6")));
    QVERIFY(warned.count() >= 1);
    QVERIFY(warned.last().at(0).toString() == plots.overfitNote()->text());

    plots.clear();
    QVERIFY(!plots.accuracyMarker()->isShown());
    QVERIFY(plots.overfitNote()->isHidden());
}

void TestTrainingHints::fewImagesAdviceNamesTheSmallClasses() {
    const QStringList names{QStringLiteral("cats"), QStringLiteral("dogs"),
                            QStringLiteral("<fish>")};
    QVERIFY(TransferAdvice::adviceText(names, {400, 250, 100}).isEmpty());
    const QString one = TransferAdvice::adviceText(names, {400, 40, 100});
    QVERIFY2(one.contains(QStringLiteral("1 class has fewer than 100 training images: dogs (40)")),
             qPrintable(one));
    const QString two = TransferAdvice::adviceText(names, {12, 40, 99});
    QVERIFY(two.contains(QStringLiteral("3 classes have")));
    QVERIFY(two.contains(QStringLiteral("&lt;fish&gt; (99)")));
    QVERIFY(TransferAdvice::adviceText(names, {12, 40, 99}, 10).isEmpty());
}

void TestTrainingHints::smallDatasetShowsTheSuggestionAndTheBatchLine() {
    TrainingPanel* training = m_window->trainingPanel();
    training->setBasicSettings(32, 1, 8);
    QSignalSpy imported(m_window->bridge(), &EngineBridge::imported);
    m_window->openFolder(m_dir.filePath(QStringLiteral("small")));
    QTRY_COMPARE_WITH_TIMEOUT(imported.count(), 1, 10000);
    TransferAdvice* advice = training->transferAdvice();
    QVERIFY(advice->isVisible());
    QVERIFY2(advice->text().contains(QStringLiteral("blue (16), red (16)")),
             qPrintable(advice->text()));
    QVERIFY(training->batchHint()->isVisible());
    QVERIFY2(training->batchHint()->text().contains(
                 QStringLiteral("32 training images ÷ batch 8 = 4 updates per epoch.")),
             qPrintable(training->batchHint()->text()));
    QVERIFY(training->batchHint()->text().contains(QStringLiteral("Very few updates")));
    // The line follows the batch box, and the layer list once it arrives.
    training->setBasicSettings(32, 1, 64);
    QVERIFY(training->batchHint()->text().contains(
        QStringLiteral("larger than the training set (32 images)")));
    QTRY_VERIFY_WITH_TIMEOUT(training->batchHint()->plan().activationBytes > 0, 10000);
    QVERIFY(training->batchHint()->text().contains(QStringLiteral("activations ≈")));
}

void TestTrainingHints::suggestionButtonLeadsToStartingWeights() {
    TrainingPanel* training = m_window->trainingPanel();
    QVERIFY(training->transferAdvice()->isVisible());
    QTest::mouseClick(training->transferAdvice()->chooseButton(), Qt::LeftButton);
    auto* weights = m_window->findChild<QLineEdit*>(QStringLiteral("trainingStartingWeights"));
    QVERIFY(weights->isVisible());
    FocusHighlight* highlight = FocusHighlight::current(m_window.get());
    QVERIFY(highlight);
    QCOMPARE(highlight->target(), weights);
    // Choosing weights is taking the advice.
    weights->setText(QStringLiteral("/some/backbone.h5"));
    QVERIFY(!training->transferAdvice()->isVisible());
    weights->clear();
}

void TestTrainingHints::startingFromScratchRemindsOfTheSuggestion() {
    TrainingPanel* training = m_window->trainingPanel();
    QVERIFY(!training->transferAdvice()->isVisible());
    training->setBasicSettings(32, 1, 8);
    training->setRunDirectory(m_dir.filePath(QStringLiteral("run")));
    QSignalSpy finished(m_window->bridge(), &EngineBridge::trainingFinished);
    training->start();
    QVERIFY(training->transferAdvice()->isVisible());
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 120000);
}

void TestTrainingHints::largeDatasetShowsNoSuggestion() {
    TrainingPanel* training = m_window->trainingPanel();
    training->setBasicSettings(32, 1, 32);
    QSignalSpy imported(m_window->bridge(), &EngineBridge::imported);
    m_window->openFolder(m_dir.filePath(QStringLiteral("large")));
    QTRY_COMPARE_WITH_TIMEOUT(imported.count(), 1, 20000);
    QVERIFY(!training->transferAdvice()->isVisible());
    QVERIFY(!training->transferAdvice()->applies());
    QVERIFY2(training->batchHint()->text().contains(
                 QStringLiteral("224 training images ÷ batch 32 = 7 updates per epoch.")),
             qPrintable(training->batchHint()->text()));
}

QTEST_MAIN(TestTrainingHints)
#include "tst_traininghints.moc"
