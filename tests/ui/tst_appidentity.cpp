// What makes the window ConvScope on a desktop: the icon compiled in from resources/, the version
// CMake gives it, and where its runs go.
#include "colourimages.h"
#include "ui/dataset/datasetpanel.h"
#include "ui/mainwindow.h"
#include "ui/training/runsfolder.h"
#include "ui/training/trainingpanel.h"

#include <QCoreApplication>
#include <QDir>
#include <QIcon>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

using namespace convscope::ui;

class TestAppIdentity : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void iconHasEverySizeTheResourcesRender_data();
    void iconHasEverySizeTheResourcesRender();
    void aboutBoxShowsTheProjectVersion();
    void runsFolderIsOneLevelUnderTheDataHome();
    void startingWithoutARunFolderUsesTheRunsFolder();

private:
    QTemporaryDir m_dir;
};

void TestAppIdentity::initTestCase() {
    QStandardPaths::setTestModeEnabled(true);
    QVERIFY(m_dir.isValid());
    // As runWorkbench names the application: the runs folder must not follow these names.
    QCoreApplication::setOrganizationName(QStringLiteral("ConvScope"));
    QCoreApplication::setApplicationName(QStringLiteral("ConvScope"));
}

void TestAppIdentity::iconHasEverySizeTheResourcesRender_data() {
    QTest::addColumn<int>("px");
    for (const int px : {16, 32, 48, 64, 128, 256, 512})
        QTest::addRow("%d px", px) << px;
}

void TestAppIdentity::iconHasEverySizeTheResourcesRender() {
    QFETCH(int, px);
    const QIcon icon = applicationIcon();
    QVERIFY(icon.availableSizes().contains(QSize(px, px)));
    const QPixmap pixmap = icon.pixmap(QSize(px, px));
    QCOMPARE(pixmap.size(), QSize(px, px));
    // Drawn, not an empty square: the tile's centre is opaque.
    QCOMPARE(pixmap.toImage().pixelColor(px / 2, px / 2).alpha(), 255);
}

void TestAppIdentity::aboutBoxShowsTheProjectVersion() {
    // CONVSCOPE_PROJECT_VERSION is project(VERSION) in the top-level CMakeLists.txt.
    QVERIFY(MainWindow::aboutText().contains(QStringLiteral("ConvScope ") +
                                             QLatin1String(CONVSCOPE_PROJECT_VERSION)));
}

void TestAppIdentity::runsFolderIsOneLevelUnderTheDataHome() {
    const QString dataHome = QStandardPaths::writableLocation(QStandardPaths::GenericDataLocation);
    QCOMPARE(runsFolder(), QDir(dataHome).filePath(QStringLiteral("convscope/runs")));
}

void TestAppIdentity::startingWithoutARunFolderUsesTheRunsFolder() {
    const QString data = m_dir.filePath(QStringLiteral("colours"));
    QVERIFY(test::writeColourImages(data + QStringLiteral("/red"), QColor(200, 20, 30), 6, 16));
    QVERIFY(test::writeColourImages(data + QStringLiteral("/blue"), QColor(20, 30, 200), 6, 16));
    MainWindow window;
    window.openFolder(data);
    QTRY_VERIFY_WITH_TIMEOUT(window.datasetPanel()->dataset() != nullptr, 10000);
    TrainingPanel* training = window.trainingPanel();
    training->setBasicSettings(16, 1, 4);
    QSignalSpy state(training, &TrainingPanel::trainingStateChanged);
    training->start();
    QVERIFY(training->runDirectory().startsWith(runsFolder() + QLatin1Char('/')));
    training->cancel();
    QTRY_VERIFY_WITH_TIMEOUT(!state.isEmpty() && !state.constLast().at(0).toBool(), 60000);
    QDir(runsFolder()).removeRecursively();
}

QTEST_MAIN(TestAppIdentity)
#include "tst_appidentity.moc"
