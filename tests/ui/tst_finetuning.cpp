// Transfer learning in the window: the layer list with its trainable totals, the bottleneck
// toggle and the two-phase fine-tune button, driven under the offscreen platform.
#include "colourimages.h"
#include "ui/augment/augmentpanel.h"
#include "ui/dataset/datasetpanel.h"
#include "ui/mainwindow.h"
#include "ui/training/layerlist.h"
#include "ui/training/trainingpanel.h"
#include "ui/training/trainingplots.h"

#include <QDir>
#include <QFile>
#include <QImage>
#include <QLabel>
#include <QPushButton>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>
#include <QTreeWidget>

using namespace convscope;
using namespace convscope::ui;

namespace {

QTreeWidgetItem* row(LayerList* list, const QString& name) {
    const auto found = list->tree()->findItems(name, Qt::MatchExactly, 0);
    return found.isEmpty() ? nullptr : found.front();
}

qint64 parametersOf(LayerList* list, const QString& name) {
    return QLocale().toLongLong(row(list, name)->text(3));
}

}  // namespace

class TestFineTuning : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void untickingALayerFreezesItAndEverythingBefore();
    void bottleneckToggleTurnsAugmentationOffWithANote();
    void fineTuneButtonRunsBothPhasesToTheEnd();

private:
    QTemporaryDir m_dir;
    QString m_data;
    std::unique_ptr<MainWindow> m_window;
};

void TestFineTuning::initTestCase() {
    QStandardPaths::setTestModeEnabled(true);
    QVERIFY(m_dir.isValid());
    m_data = m_dir.filePath(QStringLiteral("colours"));
    QVERIFY(test::writeColourImages(m_data + QStringLiteral("/red"), QColor(200, 20, 30), 15));
    QVERIFY(test::writeColourImages(m_data + QStringLiteral("/blue"), QColor(20, 30, 200), 15));
    m_window = std::make_unique<MainWindow>();
    m_window->resize(1280, 800);
    m_window->show();
    m_window->openFolder(m_data);
    QTRY_VERIFY_WITH_TIMEOUT(m_window->datasetPanel()->dataset() != nullptr, 10000);
    m_window->trainingPanel()->setBasicSettings(32, 2, 8);
}

void TestFineTuning::untickingALayerFreezesItAndEverythingBefore() {
    LayerList* layers = m_window->trainingPanel()->layers();
    m_window->trainingPanel()->showLayers(true);
    // The small blog net at 32 px: conv2d .. dense_1, built on the jobs thread.
    // (An earlier list at the default 64 px may be showing first: wait for the 2x2x64 maps.)
    QTRY_VERIFY_WITH_TIMEOUT(
        row(layers, QStringLiteral("flatten")) != nullptr &&
            row(layers, QStringLiteral("flatten"))->text(2) == QStringLiteral("256"),
        10000);
    const qint64 total = layers->trainableParameters();
    QCOMPARE(layers->frozenParameters(), 0);
    QVERIFY(layers->totals()->text().contains(QLocale().toString(total)));

    QSignalSpy changed(layers, &LayerList::freezeChanged);
    row(layers, QStringLiteral("conv2d_1"))->setCheckState(4, Qt::Unchecked);
    QCOMPARE(changed.count(), 1);
    QCOMPARE(layers->freezeUpTo(), QStringLiteral("conv2d_1"));
    const qint64 frozen = parametersOf(layers, QStringLiteral("conv2d")) +
                          parametersOf(layers, QStringLiteral("conv2d_1"));
    QCOMPARE(layers->frozenParameters(), frozen);
    QCOMPARE(layers->trainableParameters(), total - frozen);
    QVERIFY(layers->totals()->text().contains(
        QStringLiteral("frozen %1").arg(QLocale().toString(frozen))));
    QCOMPARE(row(layers, QStringLiteral("conv2d"))->checkState(4), Qt::Unchecked);
    QCOMPARE(row(layers, QStringLiteral("conv2d_2"))->checkState(4), Qt::Checked);
    QCOMPARE(QString::fromStdString(m_window->trainingPanel()->config().freezeUpTo),
             QStringLiteral("conv2d_1"));

    // Ticking a layer again makes it trainable and keeps what comes before it frozen.
    row(layers, QStringLiteral("conv2d_1"))->setCheckState(4, Qt::Checked);
    QCOMPARE(layers->freezeUpTo(), QStringLiteral("max_pooling2d"));
    QCOMPARE(layers->frozenParameters(), parametersOf(layers, QStringLiteral("conv2d")));
    row(layers, QStringLiteral("conv2d"))->setCheckState(4, Qt::Checked);
    QCOMPARE(layers->frozenParameters(), 0);
    QVERIFY(m_window->trainingPanel()->config().freezeUpTo.empty());
}

void TestFineTuning::bottleneckToggleTurnsAugmentationOffWithANote() {
    TrainingPanel* training = m_window->trainingPanel();
    AugmentPanel* augment = m_window->augmentPanel();
    QVERIFY(training->config().augment);
    QVERIFY(!augment->isTrainingBlocked());
    training->setBottleneck(true);
    QVERIFY(augment->isTrainingBlocked());
    QVERIFY(augment->blockedNote()->text().contains(
        QStringLiteral("bottleneck features are computed once, so augmentation cannot apply")));
    const TrainConfig c = training->config();
    QVERIFY(c.bottleneck);
    QVERIFY(!c.augment);
    // The whole backbone is frozen and cannot be unfrozen while bottleneck features are on.
    LayerList* layers = training->layers();
    QCOMPARE(layers->freezeUpTo(), QStringLiteral("flatten"));
    QCOMPARE(layers->trainableParameters(), parametersOf(layers, QStringLiteral("dense")) +
                                                parametersOf(layers, QStringLiteral("dense_1")));
    row(layers, QStringLiteral("conv2d"))->setCheckState(4, Qt::Checked);
    QCOMPARE(layers->freezeUpTo(), QStringLiteral("flatten"));
    training->setBottleneck(false);
    QVERIFY(!augment->isTrainingBlocked());
    QVERIFY(training->config().augment);
    QCOMPARE(layers->frozenParameters(), 0);
}

void TestFineTuning::fineTuneButtonRunsBothPhasesToTheEnd() {
    TrainingPanel* training = m_window->trainingPanel();
    // Starting weights from a first, ordinary run.
    training->setRunDirectory(m_dir.filePath(QStringLiteral("start")));
    QSignalSpy finished(m_window->bridge(), &EngineBridge::trainingFinished);
    training->start();
    QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 1, 120000);
    const QString start = m_dir.filePath(QStringLiteral("start/weights.h5"));
    QVERIFY(QFile::exists(start));

    training->setStartingWeights(start);
    training->setBottleneck(true);
    training->setFineTuneEpochs(2);
    training->setRunDirectory(m_dir.filePath(QStringLiteral("recipe")));
    QSignalSpy epochs(m_window->bridge(), &EngineBridge::epochEnded);
    QVERIFY(training->fineTuneButton()->isEnabled());
    QTest::mouseClick(training->fineTuneButton(), Qt::LeftButton);
    QVERIFY(!training->fineTuneButton()->isEnabled());
    QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 2, 180000);
    const auto result = finished.last().at(0).value<TrainingResult>();
    QVERIFY(!result.cancelled);
    QCOMPARE(epochs.count(), 4);  // 2 head epochs, then 2 fine-tuning epochs
    QList<int> phases;
    for (const auto& args : epochs)
        phases.push_back(args.at(0).value<EpochEnd>().phase);
    QCOMPARE(phases, (QList<int>{1, 1, 2, 2}));
    QCOMPARE(epochs.last().at(0).value<EpochEnd>().epoch, 4);
    QCOMPARE(epochs.last().at(0).value<EpochEnd>().learningRate, 1e-4);
    QCOMPARE(training->plots()->epochPointCount(), 4);
    QVERIFY(QFile::exists(m_dir.filePath(QStringLiteral("recipe/weights.h5"))));
    QVERIFY(QFile::exists(m_dir.filePath(QStringLiteral("recipe/head/bottleneck-features.h5"))));
    QFile history(m_dir.filePath(QStringLiteral("recipe/history.csv")));
    QVERIFY(history.open(QIODevice::ReadOnly));
    QVERIFY(history.readLine().trimmed().endsWith(",phase"));
    QVERIFY(training->fineTuneButton()->isEnabled());
    training->setBottleneck(false);
}

QTEST_MAIN(TestFineTuning)
#include "tst_finetuning.moc"
