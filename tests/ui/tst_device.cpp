// Devices in the window: the Device and Precision boxes, the About box, and running out of
// memory (injected through CONVSCOPE_FAULT_OOM_*, since CI has no GPU): the run stops at its
// last checkpoint and the window offers to resume with the largest batch that fits.
#include "colourimages.h"
#include "runtime.h"
#include "ui/dataset/datasetpanel.h"
#include "ui/mainwindow.h"
#include "ui/training/trainingpanel.h"

#include <QAbstractButton>
#include <QApplication>
#include <QComboBox>
#include <QDir>
#include <QFile>
#include <QImage>
#include <QJsonDocument>
#include <QJsonObject>
#include <QMessageBox>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

using namespace convscope;
using namespace convscope::ui;

namespace {

QJsonObject readConfig(const QString& runDir) {
    QFile f(QDir(runDir).filePath(QStringLiteral("config.json")));
    if (!f.open(QIODevice::ReadOnly))
        return {};
    return QJsonDocument::fromJson(f.readAll()).object();
}

int historyRows(const QString& runDir) {
    QFile f(QDir(runDir).filePath(QStringLiteral("history.csv")));
    if (!f.open(QIODevice::ReadOnly))
        return -1;
    return f.readAll().count('\n') - 1;
}

}  // namespace

class TestDevice : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void deviceBoxListsCpuAndEveryGpuByName();
    void precisionChoiceReachesTheConfig();
    void aboutBoxShowsVersionLibTorchAndDevices();
    void outOfMemoryOffersToResumeWithTheBatchThatFits();

private:
    QTemporaryDir m_dir;
    QString m_data;
    std::unique_ptr<MainWindow> m_window;
};

void TestDevice::initTestCase() {
    QStandardPaths::setTestModeEnabled(true);
    QVERIFY(m_dir.isValid());
    // 40 training images at batch 8: 5 steps an epoch. From step 6 on (epoch 2), batches of
    // more than 2 images are "out of memory".
    qputenv("CONVSCOPE_FAULT_OOM_ROWS", "2");
    qputenv("CONVSCOPE_FAULT_OOM_AFTER_STEPS", "5");
    m_data = m_dir.filePath(QStringLiteral("colours"));
    QVERIFY(test::writeColourImages(m_data + QStringLiteral("/red"), QColor(200, 20, 30), 25, 20));
    QVERIFY(test::writeColourImages(m_data + QStringLiteral("/blue"), QColor(20, 30, 200), 25, 20));
    m_window = std::make_unique<MainWindow>();
    m_window->resize(1280, 800);
    m_window->show();
    m_window->openFolder(m_data);
    QTRY_VERIFY_WITH_TIMEOUT(m_window->datasetPanel()->dataset() != nullptr, 10000);
}

void TestDevice::deviceBoxListsCpuAndEveryGpuByName() {
    const RuntimeInfo info = runtimeInfo();
    const QStringList entries = m_window->trainingPanel()->deviceEntries();
    QCOMPARE(entries.size(), 2 + int(info.cudaDevices.size()));
    QVERIFY(entries[0].startsWith(QStringLiteral("auto")));
    QVERIFY(entries[1].startsWith(QStringLiteral("CPU, %1 threads").arg(info.cpuThreads)));
    for (const CudaDeviceInfo& d : info.cudaDevices) {
        const QString entry = entries[2 + d.index];
        QVERIFY(entry.contains(QString::fromStdString(d.name)));
        QVERIFY(entry.contains(QStringLiteral(" GiB")));
    }
    QCOMPARE(m_window->trainingPanel()->deviceChoice(), QStringLiteral("auto"));
    // Without a GPU the box says why there is none: here, that CUDA was never loaded.
    const QComboBox* box = nullptr;
    for (const QComboBox* b : m_window->trainingPanel()->findChildren<QComboBox*>())
        if (b->findData(QStringLiteral("cpu")) >= 0)
            box = b;
    QVERIFY(box);
    if (info.cudaDevices.empty())
        QVERIFY2(box->toolTip().startsWith(QStringLiteral("No CUDA GPU was found")),
                 qPrintable(box->toolTip()));
    if (info.cudaCompiled && !info.cudaLoaded)
        QVERIFY2(box->toolTip().contains(QString::fromStdString(info.cudaStatus)),
                 qPrintable(box->toolTip()));
}

void TestDevice::precisionChoiceReachesTheConfig() {
    TrainingPanel* panel = m_window->trainingPanel();
    auto* precision = panel->findChildren<QComboBox*>().at(0);
    for (QComboBox* box : panel->findChildren<QComboBox*>())
        if (box->findData(QStringLiteral("bf16")) >= 0)
            precision = box;
    QCOMPARE(panel->precisionChoice(), QStringLiteral("auto"));
    QCOMPARE(panel->config().precision, Precision::Auto);
    precision->setCurrentIndex(precision->findData(QStringLiteral("fp32")));
    QCOMPARE(panel->config().precision, Precision::Fp32);
    precision->setCurrentIndex(precision->findData(QStringLiteral("bf16")));
    QCOMPARE(panel->config().precision, Precision::Bf16);
}

void TestDevice::aboutBoxShowsVersionLibTorchAndDevices() {
    const QString about = MainWindow::aboutText();
    QVERIFY(about.contains(QStringLiteral("ConvScope ") + QLatin1String(convscopeVersion())));
    QVERIFY(about.contains(QStringLiteral("LibTorch ") +
                           QString::fromStdString(runtimeInfo().libtorch)));
    QVERIFY(about.contains(QStringLiteral("CPU: ")));
    QVERIFY(about.contains(QStringLiteral("GPU")));
}

void TestDevice::outOfMemoryOffersToResumeWithTheBatchThatFits() {
    TrainingPanel* training = m_window->trainingPanel();
    QTRY_VERIFY_WITH_TIMEOUT(m_window->datasetPanel()->dataset() != nullptr, 10000);
    training->setBasicSettings(24, 3, 8);
    const QString run = m_dir.filePath(QStringLiteral("oom"));
    training->setRunDirectory(run);
    QSignalSpy oom(m_window->bridge(), &EngineBridge::trainingOutOfMemory);
    QSignalSpy finished(m_window->bridge(), &EngineBridge::trainingFinished);
    training->start();
    QTRY_VERIFY_WITH_TIMEOUT(oom.count() == 1, 120000);
    QCOMPARE(oom.at(0).at(2).toInt(), 2);
    QVERIFY(oom.at(0).at(1).toString().contains(QStringLiteral("at batch size 8")));
    QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 1, 10000);
    QCOMPARE(historyRows(run), 1);  // stopped at epoch 1's checkpoint
    // The run showed where it computed and in what precision (bf16, chosen above).
    QVERIFY(training->runDeviceText().startsWith(QStringLiteral("CPU (")));
    QVERIFY(training->runDeviceText().endsWith(QStringLiteral(" · bf16")));

    QMessageBox* box = nullptr;
    QTRY_VERIFY_WITH_TIMEOUT(
        (box = training->findChild<QMessageBox*>(QStringLiteral("outOfMemoryBox"))) != nullptr,
        5000);
    QAbstractButton* again = nullptr;
    for (QAbstractButton* b : box->buttons())
        if (b->text() == QStringLiteral("Resume with batch 2"))
            again = b;
    QVERIFY(again != nullptr);
    again->click();
    QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 2, 120000);
    QCOMPARE(historyRows(run), 3);
    QVERIFY(QFile::exists(QDir(run).filePath(QStringLiteral("weights.h5"))));
    QCOMPARE(readConfig(run).value(QStringLiteral("batch_size")).toInt(), 2);
    QCOMPARE(oom.count(), 1);
}

QTEST_MAIN(TestDevice)
#include "tst_device.moc"
