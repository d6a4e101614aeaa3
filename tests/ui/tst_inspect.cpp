// Looking inside a network through the real main window under the offscreen platform: filter
// grids, activation maximization, feature maps of a clicked thumbnail with the value read-out,
// class activation maps in the classify panel, and how fast feature maps follow a request.
#include "data/imagedecoder.h"
#include "train/trainer.h"
#include "ui/classify/classifypanel.h"
#include "ui/dataset/datasetpanel.h"
#include "ui/dataset/thumbnailmodel.h"
#include "ui/inspect/featuremapsview.h"
#include "ui/inspect/filtersview.h"
#include "ui/inspect/imagegridview.h"
#include "ui/inspect/inspectpanel.h"
#include "ui/mainwindow.h"

#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QImage>
#include <QListView>
#include <QMouseEvent>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

#include <algorithm>

using namespace convscope;
using namespace convscope::ui;

namespace {

void writeColourImages(const QString& folder, const QColor& colour, int count, int size) {
    QDir().mkpath(folder);
    for (int i = 0; i < count; ++i) {
        QImage img(size, size, QImage::Format_RGB888);
        img.fill(QColor(qBound(0, colour.red() + 3 * i, 255), colour.green(),
                        qBound(0, colour.blue() + 3 * i, 255)));
        const int s = size / 4 + i % 5;
        for (int y = s; y < s + size / 3; ++y)
            for (int x = s; x < s + size / 3; ++x)
                img.setPixelColor(x, y, Qt::white);
        QVERIFY(img.save(QStringLiteral("%1/%2.png").arg(folder).arg(i)));
    }
}

QString train(const QString& data, const QString& runDir, Head head, int size, int epochs) {
    TrainConfig config;
    config.dataDir = data.toStdString();
    config.runDir = runDir.toStdString();
    config.model.architecture = Architecture::SmallConvNet;
    config.model.head = head;
    config.model.inputSize = size;
    config.epochs = epochs;
    config.batchSize = 8;
    config.augment = false;
    Trainer(config, nullptr).run();
    return QDir(runDir).filePath(QStringLiteral("weights.h5"));
}

void moveMouse(QWidget* widget, const QPoint& pos) {
    QMouseEvent move(QEvent::MouseMove, QPointF(pos), widget->mapToGlobal(QPointF(pos)),
                     Qt::NoButton, Qt::NoButton, Qt::NoModifier);
    QCoreApplication::sendEvent(widget, &move);
}

std::vector<InspectableLayer> conv(const InspectLayers& list) {
    std::vector<InspectableLayer> out;
    for (const auto& l : list.layers)
        if (l.hasKernels)
            out.push_back(l);
    return out;
}

}  // namespace

class TestInspect : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void kernelGridShowsOneTilePerFilter_data();
    void kernelGridShowsOneTilePerFilter();
    void clickingAFilterComputesItsPicture();
    void layerMaximizationIsSortedByActivation();
    void layerMaximizationCanBeCancelled();
    void clickedThumbnailShowsFeatureMapsAndTheValueUnderTheCursor();
    void classifyPanelShowsTheCamOverlayAndBox();
    void camIsDisabledForAFlattenHead();
    void featureMapsFollowARequestWithin100Ms();
    void aRewrittenSnapshotIsReadAgain();

private:
    void useWeights(const QString& path);

    QTemporaryDir m_dir;
    QString m_data;
    QString m_gapWeights;
    QString m_blogWeights;
    std::unique_ptr<MainWindow> m_window;
};

void TestInspect::initTestCase() {
    QStandardPaths::setTestModeEnabled(true);
    QVERIFY(m_dir.isValid());
    m_data = m_dir.filePath(QStringLiteral("colours"));
    writeColourImages(m_data + QStringLiteral("/red"), QColor(200, 20, 30), 16, 48);
    writeColourImages(m_data + QStringLiteral("/blue"), QColor(20, 30, 200), 16, 48);
    m_gapWeights =
        train(m_data, m_dir.filePath(QStringLiteral("gap")), Head::GlobalAveragePool, 32, 3);
    // The Keras blog net at its own size, for the timing and for a head without pooling.
    m_blogWeights = train(m_data, m_dir.filePath(QStringLiteral("blog")), Head::Flatten, 150, 1);
    m_window = std::make_unique<MainWindow>();
    m_window->resize(1400, 900);
    m_window->show();
    m_window->showCentreTab(1);
    m_window->openFolder(m_data);
    QTRY_VERIFY_WITH_TIMEOUT(m_window->datasetPanel()->dataset() != nullptr, 10000);
    useWeights(m_gapWeights);
}

void TestInspect::useWeights(const QString& path) {
    InspectPanel* inspect = m_window->inspectPanel();
    QSignalSpy changed(inspect, &InspectPanel::layersChanged);
    m_window->loadWeights(path);
    QTRY_VERIFY_WITH_TIMEOUT(!changed.isEmpty(), 20000);
    QCOMPARE(inspect->layers().weightsPath, path);
}

void TestInspect::kernelGridShowsOneTilePerFilter_data() {
    QTest::addColumn<int>("convIndex");
    QTest::addColumn<int>("channels");
    QTest::addColumn<bool>("perInput");
    QTest::newRow("first layer in colour") << 0 << int(FilterChannels::Auto) << false;
    QTest::newRow("second layer averaged") << 1 << int(FilterChannels::Mean) << false;
    QTest::newRow("second layer per input") << 1 << int(FilterChannels::PerInput) << true;
}

void TestInspect::kernelGridShowsOneTilePerFilter() {
    QFETCH(int, convIndex);
    QFETCH(int, channels);
    QFETCH(bool, perInput);
    InspectPanel* inspect = m_window->inspectPanel();
    inspect->showFilters();
    FiltersView* filters = inspect->filters();
    const auto layers = conv(inspect->layers());
    QVERIFY(int(layers.size()) > convIndex);
    const InspectableLayer& layer = layers[std::size_t(convIndex)];
    const int filterCount = int(layer.outputShape.front());
    const int inputs =
        convIndex == 0 ? 3 : int(layers[std::size_t(convIndex - 1)].outputShape.front());
    QSignalSpy shown(filters, &FiltersView::kernelsShown);
    filters->selectLayer(QString::fromStdString(layer.name));
    filters->setDisplay(FilterChannels(channels), FilterNormalisation::PerLayer);
    QTRY_VERIFY_WITH_TIMEOUT(
        !shown.isEmpty() &&
            filters->kernelGrid()->tileCount() == (perInput ? filterCount * inputs : filterCount),
        10000);
    const QImage tile = filters->kernelGrid()->tile(0);
    QCOMPARE(tile.size(), QSize(3, 3));  // the blog net's 3x3 kernels
    // Per input channel: one row per filter.
    const QRect first = filters->kernelGrid()->imageRect(0);
    const QRect nextRow = filters->kernelGrid()->imageRect(perInput ? inputs : 1);
    QCOMPARE(nextRow.y() > first.y(), perInput);
}

void TestInspect::clickingAFilterComputesItsPicture() {
    FiltersView* filters = m_window->inspectPanel()->filters();
    filters->setDisplay(FilterChannels::Auto, FilterNormalisation::PerFilter);
    QSignalSpy shown(filters, &FiltersView::kernelsShown);
    QVERIFY(filters->selectLayer(
        QString::fromStdString(conv(m_window->inspectPanel()->layers())[1].name)));
    QTRY_VERIFY_WITH_TIMEOUT(!shown.isEmpty(), 10000);
    MaximizeOptions options;
    options.steps = 15;
    filters->setOptions(options);
    QSignalSpy picture(filters, &FiltersView::pictureShown);
    ImageGridView* grid = filters->kernelGrid();
    QTest::mouseClick(grid, Qt::LeftButton, {}, grid->imageRect(3).center());
    QTRY_VERIFY_WITH_TIMEOUT(!picture.isEmpty(), 30000);
    QCOMPARE(picture.first().at(0).toInt(), 3);
    QCOMPARE(filters->picture().filter, 3);
    QCOMPARE(filters->picture().image.size(), QSize(32, 32));
    QVERIFY(filters->picture().finalActivation > filters->picture().startActivation);
    QVERIFY(!filters->isMaximizing());
}

void TestInspect::layerMaximizationIsSortedByActivation() {
    FiltersView* filters = m_window->inspectPanel()->filters();
    const auto layer = conv(m_window->inspectPanel()->layers())[0];
    QVERIFY(filters->selectLayer(QString::fromStdString(layer.name)));
    MaximizeOptions options;
    options.steps = 5;
    filters->setOptions(options);
    filters->setShowBest(0);
    QSignalSpy done(filters, &FiltersView::layerMaximized);
    filters->maximizeLayer();
    QVERIFY(filters->isMaximizing());
    QTRY_VERIFY_WITH_TIMEOUT(!done.isEmpty(), 60000);
    QCOMPARE(done.first().at(0).toBool(), false);
    const auto& pictures = filters->layerPictures();
    QCOMPARE(int(pictures.size()), int(layer.outputShape.front()));
    QCOMPARE(filters->pictureGrid()->tileCount(), int(pictures.size()));
    for (int i = 1; i < pictures.size(); ++i)
        QVERIFY(pictures[i - 1].finalActivation >= pictures[i].finalActivation);
    QList<int> seen;
    for (const auto& p : pictures)
        seen.push_back(p.filter);
    std::sort(seen.begin(), seen.end());
    QCOMPARE(std::unique(seen.begin(), seen.end()), seen.end());  // every filter once

    // The blog keeps the best ones: fewer tiles, the same order.
    filters->setShowBest(8);
    QCOMPARE(filters->pictureGrid()->tileCount(), 8);
    QCOMPARE(filters->layerPictures().front().filter, pictures.front().filter);

    // The hover read-out names the tile's filter and its activation.
    ImageGridView* grid = filters->pictureGrid();
    moveMouse(grid, grid->imageRect(2).center());
    QVERIFY2(filters->readout().contains(
                 QStringLiteral("filter %1:").arg(filters->layerPictures()[2].filter)),
             qPrintable(filters->readout()));
}

void TestInspect::layerMaximizationCanBeCancelled() {
    FiltersView* filters = m_window->inspectPanel()->filters();
    const auto layer = conv(m_window->inspectPanel()->layers())[2];
    QVERIFY(filters->selectLayer(QString::fromStdString(layer.name)));
    MaximizeOptions options;
    options.steps = 400;
    filters->setOptions(options);
    QSignalSpy progress(m_window->bridge(), &EngineBridge::maximizeProgress);
    QSignalSpy done(filters, &FiltersView::layerMaximized);
    filters->maximizeLayer();
    QTRY_VERIFY_WITH_TIMEOUT(!progress.isEmpty(), 30000);
    filters->cancelMaximize();
    QTRY_VERIFY_WITH_TIMEOUT(!done.isEmpty(), 10000);  // within a step, not after 400 x 64
    QCOMPARE(done.first().at(0).toBool(), true);
    QVERIFY(filters->layerPictures().size() < int(layer.outputShape.front()));
    QVERIFY(!filters->isMaximizing());
}

void TestInspect::clickedThumbnailShowsFeatureMapsAndTheValueUnderTheCursor() {
    InspectPanel* inspect = m_window->inspectPanel();
    inspect->showFeatureMaps();
    FeatureMapsView* view = inspect->featureMaps();
    const auto layer = conv(inspect->layers())[1];
    QVERIFY(view->selectLayer(QString::fromStdString(layer.name)));

    auto* thumbnails = m_window->datasetPanel()->findChild<QListView*>();
    QVERIFY(thumbnails);
    QTRY_VERIFY(thumbnails->model()->rowCount() > 3);
    const QModelIndex index = thumbnails->model()->index(3, 0);
    thumbnails->scrollTo(index);
    QSignalSpy shown(view, &FeatureMapsView::mapsShown);
    QTest::mouseClick(thumbnails->viewport(), Qt::LeftButton, {},
                      thumbnails->visualRect(index).center());
    const QString path = index.data(ThumbnailModel::PathRole).toString();
    QTRY_VERIFY_WITH_TIMEOUT(
        !shown.isEmpty() && view->image() == path && view->maps().layer == layer.name, 10000);
    QCOMPARE(view->maps().channels, int(layer.outputShape[0]));
    QCOMPARE(view->grid()->tileCount(), view->maps().channels);

    // Core's own answer for the same image, as the network sees it.
    Inspector inspector(m_gapWeights.toStdString());
    DecodeOptions decode;
    decode.width = decode.height = inspector.metadata().model.inputSize;
    const FeatureMaps expected =
        inspector.featureMaps(decodeRgbImage(path.toStdString(), decode), layer.name);
    QCOMPARE(view->maps().height, expected.height);
    QCOMPARE(view->maps().width, expected.width);

    ImageGridView* grid = view->grid();
    const int channel = 5;
    const QRect r = grid->imageRect(channel);
    const QPoint pos(r.x() + r.width() * 3 / 4, r.y() + r.height() / 3);
    const QPoint pixel = grid->imagePixelAt(channel, pos);
    QVERIFY(pixel.x() >= 0);
    moveMouse(grid, pos);
    const float value =
        expected
            .values[(std::size_t(channel) * std::size_t(expected.height) + std::size_t(pixel.y())) *
                        std::size_t(expected.width) +
                    std::size_t(pixel.x())];
    const QString readout = view->readout();
    QVERIFY2(
        readout.contains(
            QStringLiteral("channel %1, x %2, y %3").arg(channel).arg(pixel.x()).arg(pixel.y())),
        qPrintable(readout));
    const double shownValue = readout.section(QStringLiteral("value "), 1).toDouble();
    QVERIFY2(std::abs(shownValue - double(value)) <= 1e-4 * std::max(1.0, std::abs(double(value))),
             qPrintable(QStringLiteral("%1 vs %2").arg(shownValue).arg(double(value))));

    // A click enlarges the map.
    QTest::mouseClick(grid, Qt::LeftButton, {}, pos);
    QCOMPARE(grid->selected(), channel);
}

void TestInspect::classifyPanelShowsTheCamOverlayAndBox() {
    ClassifyPanel* classify = m_window->classifyPanel();
    QCOMPARE(classify->weights(), m_gapWeights);
    QSignalSpy cam(classify, &ClassifyPanel::camShown);
    classify->setCamMethod(CamMethod::Cam);
    classify->setOverlayOpacity(50);
    classify->classify(m_data + QStringLiteral("/red/2.png"));
    QTRY_VERIFY_WITH_TIMEOUT(
        !cam.isEmpty() && classify->camResult().imagePath.endsWith(QStringLiteral("red/2.png")),
        20000);
    QVERIFY(classify->camAvailable());
    const CamResult& result = classify->camResult();
    const ClassActivation& a = result.activation;
    QCOMPARE(a.method, CamMethod::Cam);
    QCOMPARE(result.classNames.at(a.classIndex), classify->topClass());
    QCOMPARE(classify->overlay().size(), result.image.size());
    QVERIFY(a.boxX0 >= 0 && a.boxX0 <= a.boxX1 && a.boxX1 < a.imageWidth);
    QVERIFY(a.boxY0 >= 0 && a.boxY0 <= a.boxY1 && a.boxY1 < a.imageHeight);
    // The heat is blended in and the box drawn in white on its left edge.
    QVERIFY(classify->overlay().convertToFormat(QImage::Format_RGB888) !=
            result.image.convertToFormat(QImage::Format_RGB888));
    QCOMPARE(classify->overlay().pixelColor(a.boxX0, (a.boxY0 + a.boxY1) / 2), QColor(Qt::white));

    // Clicking the other class's probability row shows that class's map.
    const int other = 1 - a.classIndex;
    QWidget* row = nullptr;
    for (QWidget* w : classify->findChildren<QWidget*>())
        if (w->accessibleName().startsWith(result.classNames[other] + QLatin1Char(' ')))
            row = w;
    QVERIFY(row);
    cam.clear();
    QTest::mouseClick(row, Qt::LeftButton, {}, QPoint(5, row->height() / 2));
    QTRY_VERIFY_WITH_TIMEOUT(!cam.isEmpty() && classify->camResult().activation.classIndex == other,
                             20000);

    classify->setCamMethod(CamMethod::GradCam);
    QTRY_VERIFY_WITH_TIMEOUT(classify->camResult().activation.method == CamMethod::GradCam, 20000);
}

void TestInspect::camIsDisabledForAFlattenHead() {
    useWeights(m_blogWeights);
    ClassifyPanel* classify = m_window->classifyPanel();
    classify->setCamMethod(CamMethod::Cam);
    QSignalSpy cam(classify, &ClassifyPanel::camShown);
    classify->classify(m_data + QStringLiteral("/blue/1.png"));
    QTRY_VERIFY_WITH_TIMEOUT(!cam.isEmpty(), 20000);
    QVERIFY(!classify->camAvailable());
    QCOMPARE(classify->camMethod(), CamMethod::GradCam);
    QCOMPARE(classify->camResult().activation.method, CamMethod::GradCam);
}

void TestInspect::featureMapsFollowARequestWithin100Ms() {
    InspectPanel* inspect = m_window->inspectPanel();
    QCOMPARE(inspect->layers().weightsPath, m_blogWeights);
    inspect->showFeatureMaps();
    FeatureMapsView* view = inspect->featureMaps();
    const auto layers = conv(inspect->layers());
    QStringList paths;
    for (int i = 0; i < 6; ++i)
        paths << m_data + QStringLiteral("/red/%1.png").arg(i)
              << m_data + QStringLiteral("/blue/%1.png").arg(i);
    std::vector<double> timesMs;
    for (const auto& layer : layers) {
        QVERIFY(view->selectLayer(QString::fromStdString(layer.name)));
        for (const QString& path : paths) {
            QSignalSpy shown(view, &FeatureMapsView::mapsShown);
            view->setImage(path);
            QVERIFY(shown.wait(5000));  // a real event loop: no polling delay in the figure
            QCOMPARE(view->maps().layer, layer.name);
            timesMs.push_back(shown.first().at(0).toDouble());
        }
    }
    std::sort(timesMs.begin(), timesMs.end());
    const double median = timesMs[timesMs.size() / 2];
    qInfo(
        "feature maps, blog net 150x150, request to grid painted: median %.1f ms, max %.1f ms "
        "over %d requests (layers %s..%s)",
        median, timesMs.back(), int(timesMs.size()), layers.front().name.c_str(),
        layers.back().name.c_str());
    QVERIFY2(median < 100, qPrintable(QStringLiteral("median %1 ms").arg(median)));
}

void TestInspect::aRewrittenSnapshotIsReadAgain() {
    // Training rewrites latest.h5 after every epoch under the same name.
    const QString snapshot = m_dir.filePath(QStringLiteral("latest.h5"));
    QVERIFY(QFile::copy(m_gapWeights, snapshot));
    useWeights(snapshot);
    QCOMPARE(m_window->inspectPanel()->layers().inputSize, 32);
    QVERIFY(QFile::remove(snapshot));
    QVERIFY(QFile::copy(m_blogWeights, snapshot));
    QFile file(snapshot);
    QVERIFY(file.open(QIODevice::ReadWrite));
    QVERIFY(file.setFileTime(QDateTime::currentDateTime().addSecs(5),
                             QFileDevice::FileModificationTime));
    file.close();
    useWeights(snapshot);
    QCOMPARE(m_window->inspectPanel()->layers().inputSize, 150);
}

QTEST_MAIN(TestInspect)
#include "tst_inspect.moc"
