#include "data/decodedstore.h"
#include "ui/dataset/classlistmodel.h"
#include "ui/dataset/datasetpanel.h"
#include "ui/dataset/decodedcachebar.h"
#include "ui/dataset/flaggedfilesmodel.h"
#include "ui/dataset/thumbnailmodel.h"
#include "ui/engine/enginebridge.h"

#include <QAbstractItemModelTester>
#include <QDir>
#include <QFile>
#include <QImage>
#include <QLabel>
#include <QListView>
#include <QProgressBar>
#include <QPushButton>
#include <QSignalSpy>
#include <QTabWidget>
#include <QTableView>
#include <QTemporaryDir>
#include <QTest>
#include <QToolButton>

#include <memory>

using namespace convscope;
using namespace convscope::ui;

namespace {

// 6 cats, 3 dogs, 2 birds; a .DS_Store and an empty file that the import must flag.
void writeImage(const QString& path, QColor colour) {
    QImage image(24, 16, QImage::Format_RGB32);
    image.fill(colour);
    QVERIFY2(image.save(path, "PNG"), qPrintable(path));
}

void writeBytes(const QString& path, const QByteArray& bytes) {
    QFile file(path);
    QVERIFY(file.open(QIODevice::WriteOnly));
    file.write(bytes);
}

DatasetPtr scan(const QString& root, double validationFraction) {
    ScanOptions options;
    options.validationFraction = validationFraction;
    options.seed = 7;
    options.threads = 1;
    return std::make_shared<const DatasetIndex>(DatasetIndex::scan(root.toStdString(), options));
}

}  // namespace

class TestDatasetModels : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();

    void classModelPassesTheModelTester();
    void thumbnailModelPassesTheModelTester();
    void flaggedModelPassesTheModelTester();

    void classCountsPerSplitAndBalance_data();
    void classCountsPerSplitAndBalance();
    void thumbnailsFilterByClass_data();
    void thumbnailsFilterByClass();
    void thumbnailTooltipNamesRelativePathSplitAndSize();
    void flaggedFilesListPathAndReason_data();
    void flaggedFilesListPathAndReason();
    void warningsAreRowsWithAnEmptyPath();

    void readyThumbnailFillsDecorationAndUpdatesItsRow();
    void undecodableThumbnailKeepsPlaceholderAndIsNotAskedAgain();
    void requestsSkipCachedAndPendingRowsNewestLast();
    void thumbnailCacheIsBounded();

    void panelHeaderSummarisesTheDataset();
    void panelSelectingAClassFiltersThumbnails();
    void panelRequestsOnlyThumbnailsNearTheViewport();
    void panelClickOnThumbnailActivatesImage();
    void panelImportProgressShowsAndCancels();
    void panelShowsThumbnailsDecodedByTheBridge();
    void cacheBarShowsTheDecodedImageCacheAndClearsIt();

private:
    QTemporaryDir m_dir;
    QString m_root;
    DatasetPtr m_dataset;
};

void TestDatasetModels::initTestCase() {
    QVERIFY(m_dir.isValid());
    m_root = m_dir.filePath(QStringLiteral("pets"));
    const QDir root(m_root);
    const QList<std::pair<QString, int>> classes{
        {QStringLiteral("cats"), 6}, {QStringLiteral("dogs"), 3}, {QStringLiteral("birds"), 2}};
    for (const auto& [name, count] : classes) {
        QVERIFY(root.mkpath(name));
        for (int i = 0; i < count; ++i)
            writeImage(root.filePath(QStringLiteral("%1/%1_%2.png").arg(name).arg(i)), Qt::red);
    }
    writeBytes(root.filePath(QStringLiteral("cats/.DS_Store")),
               QByteArray::fromHex("00000001427564310000100000000800"));
    writeBytes(root.filePath(QStringLiteral("dogs/empty.jpg")), {});
    m_dataset = scan(m_root, 0.5);
}

void TestDatasetModels::classModelPassesTheModelTester() {
    ClassListModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    model.setDataset(m_dataset);
    QCOMPARE(model.rowCount(), 3);
    QCOMPARE(model.columnCount(), int(ClassListModel::ColumnCount));
    model.setDataset(nullptr);
    QCOMPARE(model.rowCount(), 0);
}

void TestDatasetModels::thumbnailModelPassesTheModelTester() {
    ThumbnailModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    model.setDataset(m_dataset);
    model.setClassFilter(1);
    model.onThumbnailReady(model.pathAt(0), QImage(8, 8, QImage::Format_RGB32));
    model.setClassFilter(-1);
    model.setThumbnailSize(48);
    model.setDataset(nullptr);
    QCOMPARE(model.rowCount(), 0);
}

void TestDatasetModels::flaggedModelPassesTheModelTester() {
    FlaggedFilesModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    model.setDataset(m_dataset);
    QCOMPARE(model.rowCount(), 2);
    model.setDataset(nullptr);
    QCOMPARE(model.rowCount(), 0);
}

void TestDatasetModels::classCountsPerSplitAndBalance_data() {
    QTest::addColumn<int>("row");
    QTest::addColumn<QString>("name");
    QTest::addColumn<int>("train");
    QTest::addColumn<int>("validation");
    QTest::addColumn<double>("balance");
    // Classes sort by name; half of each goes to validation, rounded half away from zero.
    QTest::newRow("birds") << 0 << QStringLiteral("birds") << 1 << 1 << 2.0 / 6;
    QTest::newRow("cats") << 1 << QStringLiteral("cats") << 3 << 3 << 1.0;
    QTest::newRow("dogs") << 2 << QStringLiteral("dogs") << 1 << 2 << 0.5;
}

void TestDatasetModels::classCountsPerSplitAndBalance() {
    QFETCH(int, row);
    QFETCH(QString, name);
    QFETCH(int, train);
    QFETCH(int, validation);
    QFETCH(double, balance);
    ClassListModel model;
    model.setDataset(m_dataset);
    const auto cell = [&](int column, int role = Qt::DisplayRole) {
        return model.data(model.index(row, column), role);
    };
    QCOMPARE(cell(ClassListModel::NameColumn).toString(), name);
    QCOMPARE(cell(ClassListModel::TrainColumn).toInt(), train);
    QCOMPARE(cell(ClassListModel::ValidationColumn).toInt(), validation);
    QCOMPARE(cell(ClassListModel::TrainColumn).toInt(), int(m_dataset->count(row, Split::Train)));
    QCOMPARE(cell(ClassListModel::BalanceColumn).toDouble(), balance);
    QCOMPARE(cell(ClassListModel::BalanceColumn, ClassListModel::CountRole).toInt(),
             train + validation);
}

void TestDatasetModels::thumbnailsFilterByClass_data() {
    QTest::addColumn<int>("label");
    QTest::addColumn<int>("rows");
    QTest::newRow("all") << -1 << 11;
    QTest::newRow("birds") << 0 << 2;
    QTest::newRow("cats") << 1 << 6;
    QTest::newRow("dogs") << 2 << 3;
}

void TestDatasetModels::thumbnailsFilterByClass() {
    QFETCH(int, label);
    QFETCH(int, rows);
    ThumbnailModel model;
    model.setDataset(m_dataset);
    model.setClassFilter(label);
    QCOMPARE(model.classFilter(), label);
    QCOMPARE(model.rowCount(), rows);
    for (int row = 0; row < rows; ++row) {
        const QModelIndex index = model.index(row);
        const int sample = index.data(ThumbnailModel::SampleIndexRole).toInt();
        if (label >= 0)
            QCOMPARE(m_dataset->samples()[size_t(sample)].label, label);
        QCOMPARE(model.rowOfPath(index.data(ThumbnailModel::PathRole).toString()), row);
        QVERIFY(index.data().toString().endsWith(QLatin1String(".png")));
        QVERIFY(!index.data(Qt::DecorationRole).value<QPixmap>().isNull());
    }
}

void TestDatasetModels::thumbnailTooltipNamesRelativePathSplitAndSize() {
    ThumbnailModel model;
    model.setDataset(m_dataset);
    model.setClassFilter(1);
    const QModelIndex index = model.index(0);
    const Sample& sample =
        m_dataset->samples()[size_t(index.data(ThumbnailModel::SampleIndexRole).toInt())];
    const QString tip = index.data(Qt::ToolTipRole).toString();
    QVERIFY2(tip.startsWith(QStringLiteral("cats/cats_")), qPrintable(tip));
    QVERIFY2(tip.contains(QLatin1String(splitName(sample.split))), qPrintable(tip));
    QVERIFY2(tip.contains(QStringLiteral("24 × 16")), qPrintable(tip));
}

void TestDatasetModels::flaggedFilesListPathAndReason_data() {
    QTest::addColumn<QString>("path");
    QTest::addColumn<QString>("reason");
    QTest::newRow("metadata") << QStringLiteral("cats/.DS_Store") << QStringLiteral(".DS_Store");
    QTest::newRow("empty") << QStringLiteral("dogs/empty.jpg") << QStringLiteral("empty file");
}

void TestDatasetModels::flaggedFilesListPathAndReason() {
    QFETCH(QString, path);
    QFETCH(QString, reason);
    FlaggedFilesModel model;
    model.setDataset(m_dataset);
    QCOMPARE(model.skippedCount(), 2);
    QCOMPARE(model.warningCount(), 0);
    const QModelIndexList hits = model.match(model.index(0, FlaggedFilesModel::PathColumn),
                                             Qt::DisplayRole, path, -1, Qt::MatchExactly);
    QCOMPARE(hits.size(), 1);
    const QModelIndex reasonIndex = hits.first().siblingAtColumn(FlaggedFilesModel::ReasonColumn);
    QVERIFY2(reasonIndex.data().toString().contains(reason),
             qPrintable(reasonIndex.data().toString()));
    QCOMPARE(reasonIndex.data(FlaggedFilesModel::IsWarningRole).toBool(), false);
}

void TestDatasetModels::warningsAreRowsWithAnEmptyPath() {
    const QString root = m_dir.filePath(QStringLiteral("single"));
    QVERIFY(QDir().mkpath(root + QStringLiteral("/only")));
    writeImage(root + QStringLiteral("/only/a.png"), Qt::blue);
    writeImage(root + QStringLiteral("/only/b.png"), Qt::blue);
    FlaggedFilesModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    model.setDataset(scan(root, 0.5));
    QCOMPARE(model.skippedCount(), 0);
    QCOMPARE(model.warningCount(), 1);
    QCOMPARE(model.rowCount(), 1);
    QCOMPARE(model.index(0, FlaggedFilesModel::PathColumn).data().toString(), QString());
    QVERIFY(model.index(0, FlaggedFilesModel::ReasonColumn)
                .data()
                .toString()
                .contains(QLatin1String("only one class")));
    QCOMPARE(model.index(0, 0).data(FlaggedFilesModel::IsWarningRole).toBool(), true);
}

void TestDatasetModels::readyThumbnailFillsDecorationAndUpdatesItsRow() {
    ThumbnailModel model;
    model.setDataset(m_dataset);
    QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
    const QString path = model.pathAt(4);
    QImage image(48, 24, QImage::Format_RGB32);
    image.fill(Qt::green);
    model.onThumbnailReady(path, image);

    QCOMPARE(changed.size(), 1);
    QCOMPARE(changed.at(0).at(0).toModelIndex().row(), 4);
    QCOMPARE(changed.at(0).at(1).toModelIndex().row(), 4);
    QVERIFY(changed.at(0).at(2).value<QList<int>>().contains(Qt::DecorationRole));
    QVERIFY(model.hasThumbnail(path));
    const QImage shown = model.index(4).data(Qt::DecorationRole).value<QPixmap>().toImage();
    QCOMPARE(shown.size(), QSize(96, 96));
    QCOMPARE(shown.pixelColor(48, 48), QColor(Qt::green));
    QCOMPARE(shown.pixelColor(48, 5).alpha(), 0);  // letterboxed: wide image, square cell

    model.onThumbnailReady(QStringLiteral("/elsewhere/unknown.png"), image);
    QCOMPARE(changed.size(), 1);
}

void TestDatasetModels::undecodableThumbnailKeepsPlaceholderAndIsNotAskedAgain() {
    ThumbnailModel model;
    model.setDataset(m_dataset);
    const QImage placeholder = model.index(0).data(Qt::DecorationRole).value<QPixmap>().toImage();
    QSignalSpy requested(&model, &ThumbnailModel::thumbnailRequested);
    model.requestThumbnails(0, 0);
    QCOMPARE(requested.size(), 1);
    model.onThumbnailReady(model.pathAt(0), QImage());
    QCOMPARE(model.index(0).data(Qt::DecorationRole).value<QPixmap>().toImage(), placeholder);
    model.requestThumbnails(0, 0);
    QCOMPARE(requested.size(), 1);
}

void TestDatasetModels::requestsSkipCachedAndPendingRowsNewestLast() {
    ThumbnailModel model;
    model.setDataset(m_dataset);
    QSignalSpy requested(&model, &ThumbnailModel::thumbnailRequested);
    model.requestThumbnails(0, 3);
    QCOMPARE(requested.size(), 4);
    QCOMPARE(requested.at(0).at(0).toString(), model.pathAt(3));  // top row asked last
    QCOMPARE(requested.at(3).at(0).toString(), model.pathAt(0));
    QCOMPARE(requested.at(0).at(1).toInt(), ThumbnailModel::kDefaultThumbnailSizePx);

    requested.clear();
    model.requestThumbnails(0, 3);  // all pending: nothing new
    QCOMPARE(requested.size(), 0);

    model.onThumbnailReady(model.pathAt(1), QImage(4, 4, QImage::Format_RGB32));
    model.requestThumbnails(0, 5);
    QCOMPARE(requested.size(), 2);
    QCOMPARE(requested.at(0).at(0).toString(), model.pathAt(5));
    QCOMPARE(requested.at(1).at(0).toString(), model.pathAt(4));

    // Rows scrolled out of the range are forgotten (a decoder may drop stale requests), so
    // coming back to them asks again; cached ones never are.
    requested.clear();
    model.requestThumbnails(5, 5);
    model.requestThumbnails(0, 1);
    QCOMPARE(requested.size(), 1);
    QCOMPARE(requested.at(0).at(0).toString(), model.pathAt(0));
}

void TestDatasetModels::thumbnailCacheIsBounded() {
    ThumbnailModel model;
    model.setDataset(m_dataset);
    QCOMPARE(model.cacheCapacity(), ThumbnailModel::kDefaultCacheEntries);
    model.setCacheCapacity(3);
    for (int row = 0; row < model.rowCount(); ++row)
        model.onThumbnailReady(model.pathAt(row), QImage(4, 4, QImage::Format_RGB32));
    int cached = 0;
    for (int row = 0; row < model.rowCount(); ++row)
        cached += model.hasThumbnail(model.pathAt(row)) ? 1 : 0;
    QCOMPARE(cached, 3);
    QVERIFY(model.hasThumbnail(model.pathAt(model.rowCount() - 1)));
}

void TestDatasetModels::panelHeaderSummarisesTheDataset() {
    DatasetPanel panel(nullptr);
    auto* header = panel.findChild<QLabel*>(QStringLiteral("datasetHeader"));
    QVERIFY(header);
    QVERIFY(!header->text().contains(QStringLiteral("11 images")));
    panel.setDataset(m_dataset);
    QCOMPARE(panel.dataset(), m_dataset);
    const QString text = header->text();
    QVERIFY2(text.contains(QDir::toNativeSeparators(m_root)) || text.contains(m_root),
             qPrintable(text));
    QVERIFY2(text.contains(QStringLiteral("class folders")), qPrintable(text));
    QVERIFY2(text.contains(QStringLiteral("11 images")), qPrintable(text));
    QVERIFY2(text.contains(QStringLiteral("3 classes")), qPrintable(text));
    QVERIFY2(text.contains(QStringLiteral("train 5 (45%) / validation 6 (55%)")), qPrintable(text));
    QCOMPARE(panel.classModel()->rowCount(), 3);
    QCOMPARE(panel.thumbnailModel()->rowCount(), 11);
    QCOMPARE(panel.flaggedModel()->rowCount(), 2);
    auto* tabs = panel.findChild<QTabWidget*>();
    QVERIFY(tabs);
    QCOMPARE(tabs->tabText(1), QStringLiteral("Flagged files (2)"));
}

void TestDatasetModels::panelSelectingAClassFiltersThumbnails() {
    DatasetPanel panel(nullptr);
    panel.setDataset(m_dataset);
    auto* classes = panel.findChild<QTableView*>(QStringLiteral("classTable"));
    auto* showAll = panel.findChild<QToolButton*>(QStringLiteral("showAllClasses"));
    QVERIFY(classes && showAll);
    classes->selectRow(2);
    QCOMPARE(panel.thumbnailModel()->classFilter(), 2);
    QCOMPARE(panel.thumbnailModel()->rowCount(), 3);
    QVERIFY(showAll->isEnabled());
    showAll->click();
    QCOMPARE(panel.thumbnailModel()->classFilter(), -1);
    QCOMPARE(panel.thumbnailModel()->rowCount(), 11);
    QVERIFY(!showAll->isEnabled());
}

void TestDatasetModels::panelRequestsOnlyThumbnailsNearTheViewport() {
    const QString root = m_dir.filePath(QStringLiteral("many"));
    for (const QString& name : {QStringLiteral("a"), QStringLiteral("b")}) {
        QVERIFY(QDir().mkpath(root + QLatin1Char('/') + name));
        for (int i = 0; i < 200; ++i)
            writeImage(
                QStringLiteral("%1/%2/%3.png").arg(root, name).arg(i, 3, 10, QLatin1Char('0')),
                Qt::gray);
    }
    DatasetPanel panel(nullptr);
    QSignalSpy requested(panel.thumbnailModel(), &ThumbnailModel::thumbnailRequested);
    panel.resize(700, 420);
    panel.setDataset(scan(root, 0.2));
    panel.show();
    QVERIFY(QTest::qWaitForWindowExposed(&panel));
    const ThumbnailModel* model = panel.thumbnailModel();
    QTRY_VERIFY(requested.size() > 0);
    const auto wasRequested = [&](int row) {
        return std::any_of(requested.cbegin(), requested.cend(), [&](const QList<QVariant>& args) {
            return args.at(0).toString() == model->pathAt(row);
        });
    };
    QVERIFY(wasRequested(0));
    QVERIFY2(requested.size() < 100, qPrintable(QString::number(requested.size())));
    QVERIFY(!wasRequested(399));

    requested.clear();
    panel.findChild<QListView*>(QStringLiteral("thumbnailGrid"))->scrollToBottom();
    QTRY_VERIFY(wasRequested(399));
    QVERIFY(!wasRequested(0));
    QVERIFY2(requested.size() < 100, qPrintable(QString::number(requested.size())));
}

void TestDatasetModels::panelClickOnThumbnailActivatesImage() {
    DatasetPanel panel(nullptr);
    panel.resize(700, 420);
    panel.setDataset(m_dataset);
    panel.show();
    QVERIFY(QTest::qWaitForWindowExposed(&panel));
    QSignalSpy activated(&panel, &DatasetPanel::imageActivated);
    auto* grid = panel.findChild<QListView*>(QStringLiteral("thumbnailGrid"));
    const QModelIndex index = panel.thumbnailModel()->index(2);
    QTest::mouseClick(grid->viewport(), Qt::LeftButton, {}, grid->visualRect(index).center());
    QCOMPARE(activated.size(), 1);
    QCOMPARE(activated.at(0).at(0).toString(), panel.thumbnailModel()->pathAt(2));
}

void TestDatasetModels::panelImportProgressShowsAndCancels() {
    DatasetPanel panel(nullptr);
    auto* progress = panel.findChild<QProgressBar*>(QStringLiteral("importProgress"));
    auto* cancel = panel.findChild<QPushButton*>(QStringLiteral("cancelImport"));
    QVERIFY(progress && cancel);
    QVERIFY(!progress->isVisibleTo(&panel));
    panel.setImportProgress(3, 10);
    QVERIFY(progress->isVisibleTo(&panel));
    QCOMPARE(progress->value(), 3);
    QCOMPARE(progress->maximum(), 10);

    QSignalSpy cancelled(&panel, &DatasetPanel::cancelImportRequested);
    cancel->click();
    QCOMPARE(cancelled.size(), 1);
    QVERIFY(!cancel->isEnabled());

    panel.setDataset(m_dataset);
    QVERIFY(!progress->isVisibleTo(&panel));
    panel.setImportProgress(0, 0);
    QVERIFY(cancel->isEnabled());
}

void TestDatasetModels::panelShowsThumbnailsDecodedByTheBridge() {
    EngineBridge bridge;
    DatasetPanel panel(&bridge);
    panel.resize(700, 420);
    panel.setDataset(m_dataset);
    panel.show();
    QVERIFY(QTest::qWaitForWindowExposed(&panel));
    const ThumbnailModel* model = panel.thumbnailModel();
    QTRY_VERIFY(model->hasThumbnail(model->pathAt(0)));
    const QImage shown = model->index(0).data(Qt::DecorationRole).value<QPixmap>().toImage();
    QCOMPARE(shown.pixelColor(48, 48), QColor(Qt::red));
}

void TestDatasetModels::cacheBarShowsTheDecodedImageCacheAndClearsIt() {
    QTemporaryDir dir;
    const QByteArray saved = qgetenv("CONVSCOPE_CACHE_DIR");
    qputenv("CONVSCOPE_CACHE_DIR", dir.path().toUtf8());
    const DecodedStore store;
    QCOMPARE(QString::fromStdString(store.directory()), dir.path());
    DatasetPanel panel(nullptr);
    auto* bar = panel.findChild<DecodedCacheBar*>();
    QVERIFY(bar);
    auto* clear = bar->findChild<QToolButton*>(QStringLiteral("clearDecodedCache"));
    QVERIFY(clear);
    bar->refresh();
    QVERIFY2(bar->text().contains(QStringLiteral("0 B of 2.0 GiB, 0 datasets\nin ") + dir.path()),
             qPrintable(bar->text()));
    QVERIFY(!clear->isEnabled());

    // Two packs as training writes them: 2 MiB of pixels between them.
    std::vector<std::uint8_t> pixels(512 * 512 * 3, 7);
    for (const char* root : {"/data/a", "/data/b"}) {
        DecodedPack::Image image;
        image.entry.path = std::string(root) + "/cats/1.jpg";
        image.entry.stamp = {100, 200};
        image.pixels = pixels.data();
        const DecodeSettings settings{512, 512, 1u << 30};
        DecodedPack::write(store.packPath(root, settings), root, settings, {image});
    }
    bar->refresh();
    QVERIFY2(bar->text().startsWith(QStringLiteral("Decoded-image cache: 2 MiB of 2.0 GiB, 2 "
                                                   "datasets\n")),
             qPrintable(bar->text()));
    QVERIFY(clear->isEnabled());
    QTest::mouseClick(clear, Qt::LeftButton);
    QCOMPARE(store.usage().packs, std::size_t(0));
    QVERIFY2(bar->text().contains(QStringLiteral("0 B of 2.0 GiB, 0 datasets")) &&
                 bar->text().contains(QStringLiteral("(cleared 2 datasets, 2 MiB)")),
             qPrintable(bar->text()));
    QVERIFY(!clear->isEnabled());
    qputenv("CONVSCOPE_CACHE_DIR", saved);
}

QTEST_MAIN(TestDatasetModels)
#include "tst_datasetmodels.moc"
