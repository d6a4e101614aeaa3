// A Keras network in the window: Architecture "keras" with a model config, the Layers tab's
// "Cut here" and "Add a block…", a run trained on the cut network, and Undo surgery.
#include "colourimages.h"
#include "ui/dataset/datasetpanel.h"
#include "ui/engine/enginebridge.h"
#include "ui/mainwindow.h"
#include "ui/training/layerlist.h"
#include "ui/training/networksurgery.h"
#include "ui/training/trainingpanel.h"

#include <QDir>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QPushButton>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>
#include <QTreeWidget>

using namespace convscope;
using namespace convscope::ui;

namespace {

/// A Keras Sequential model config as model.to_json() writes it (Keras 2 form).
const char* kTinyModel = R"({"class_name": "Sequential", "config": {"name": "tiny", "layers": [
 {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 32, 32, 3], "name": "image"}},
 {"class_name": "Conv2D", "config": {"name": "c1", "filters": 8, "kernel_size": [3, 3],
  "strides": [1, 1], "padding": "same", "activation": "relu", "use_bias": true}},
 {"class_name": "MaxPooling2D", "config": {"name": "p1", "pool_size": [2, 2], "strides": [2, 2],
  "padding": "valid"}},
 {"class_name": "Conv2D", "config": {"name": "c2", "filters": 16, "kernel_size": [3, 3],
  "strides": [1, 1], "padding": "same", "activation": "relu", "use_bias": true}},
 {"class_name": "GlobalAveragePooling2D", "config": {"name": "gap"}},
 {"class_name": "Dense", "config": {"name": "out", "units": 2, "activation": "softmax"}}]}})";

QTreeWidgetItem* row(LayerList* list, const QString& name) {
    const auto found = list->tree()->findItems(name, Qt::MatchExactly, 0);
    return found.isEmpty() ? nullptr : found.front();
}

}  // namespace

class TestNetworkSurgery : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void aKerasModelListsItsOwnLayers();
    void surgeryIsOffForTorchvisionNetworks();
    void cutHereThenAddABlockRebuildsTheLayers();
    void theCutNetworkTrainsAndItsRunRecordsTheSurgery();
    void undoSurgeryBringsTheModelBack();
    void cuttingABuiltInNetworkUsesItsKerasForm();

private:
    TrainingPanel* training() const { return m_window->trainingPanel(); }
    LayerList* layers() const { return training()->layers(); }

    QTemporaryDir m_dir;
    std::unique_ptr<MainWindow> m_window;
};

void TestNetworkSurgery::initTestCase() {
    QStandardPaths::setTestModeEnabled(true);
    QVERIFY(m_dir.isValid());
    const QString data = m_dir.filePath(QStringLiteral("colours"));
    QVERIFY(test::writeColourImages(data + QStringLiteral("/red"), QColor(200, 20, 30), 10));
    QVERIFY(test::writeColourImages(data + QStringLiteral("/blue"), QColor(20, 30, 200), 10));
    m_window = std::make_unique<MainWindow>();
    m_window->resize(1280, 800);
    m_window->show();
    m_window->openFolder(data);
    QTRY_VERIFY_WITH_TIMEOUT(m_window->datasetPanel()->dataset() != nullptr, 10000);
    training()->setBasicSettings(32, 1, 8);
    training()->showLayers(true);
}

void TestNetworkSurgery::aKerasModelListsItsOwnLayers() {
    training()->surgery()->setModel(kTinyModel, QStringLiteral("tiny.json"), {}, {});
    training()->setArchitecture(Architecture::Keras, Head::GlobalAveragePool);
    QTRY_VERIFY_WITH_TIMEOUT(row(layers(), QStringLiteral("out")) != nullptr, 10000);
    QCOMPARE(row(layers(), QStringLiteral("c2"))->text(1), QStringLiteral("Conv2D"));
    QCOMPARE(row(layers(), QStringLiteral("out"))->text(2), QStringLiteral("2"));
    QVERIFY(training()->surgery()->isVisible());
    const TrainConfig c = training()->config();
    QCOMPARE(c.model.architecture, Architecture::Keras);
    QCOMPARE(c.model.kerasModel, std::string(kTinyModel));
}

void TestNetworkSurgery::surgeryIsOffForTorchvisionNetworks() {
    training()->setArchitecture(Architecture::ResNet18, Head::GlobalAveragePool);
    QTRY_VERIFY_WITH_TIMEOUT(row(layers(), QStringLiteral("layer4")) != nullptr, 10000);
    layers()->tree()->setCurrentItem(row(layers(), QStringLiteral("layer3")));
    QVERIFY(!layers()->cutButton()->isEnabled());
    QVERIFY(!layers()->addBlockButton()->isEnabled());
    QVERIFY(layers()->cutButton()->toolTip().contains(QStringLiteral("torchvision")));
    QVERIFY(!training()->surgery()->isVisible());
    QVERIFY(training()->config().model.kerasModel.empty());
    // Back to the Keras network opened before: no file dialog, its model is kept.
    training()->setArchitecture(Architecture::Keras, Head::GlobalAveragePool);
    QTRY_VERIFY_WITH_TIMEOUT(row(layers(), QStringLiteral("out")) != nullptr, 10000);
}

void TestNetworkSurgery::cutHereThenAddABlockRebuildsTheLayers() {
    layers()->tree()->setCurrentItem(row(layers(), QStringLiteral("c2")));
    QVERIFY(layers()->cutButton()->isEnabled());
    QTest::mouseClick(layers()->cutButton(), Qt::LeftButton);
    QCOMPARE(training()->config().model.cutAfter, std::string("c2"));
    // c2 gives feature maps: the head needs them pooled first, which Add a block gives.
    QCOMPARE(training()->surgery()->addBlock(QStringLiteral("conv:4:3"), {}), QString());
    QCOMPARE(training()->surgery()->addBlock(QStringLiteral("gap,dropout:0.2"), {}), QString());
    QTRY_VERIFY_WITH_TIMEOUT(row(layers(), QStringLiteral("predictions")) != nullptr, 10000);
    QVERIFY(row(layers(), QStringLiteral("out")) == nullptr);
    QVERIFY(row(layers(), QStringLiteral("gap")) == nullptr);
    QCOMPARE(row(layers(), QStringLiteral("added_conv2d"))->text(2), QStringLiteral("4 × 16 × 16"));
    QVERIFY(row(layers(), QStringLiteral("added_global_average_pooling2d")) != nullptr);
    QCOMPARE(training()->config().model.append, std::string("conv:4:3,gap,dropout:0.2"));
    // A bad spec is refused with its reason and changes nothing.
    const QString refused = training()->surgery()->addBlock(QStringLiteral("lstm:3"), {});
    QVERIFY2(refused.contains(QStringLiteral("unknown layer")), qPrintable(refused));
    QCOMPARE(training()->config().model.append, std::string("conv:4:3,gap,dropout:0.2"));
}

void TestNetworkSurgery::theCutNetworkTrainsAndItsRunRecordsTheSurgery() {
    const QString run = m_dir.filePath(QStringLiteral("cut-run"));
    training()->setRunDirectory(run);
    QSignalSpy finished(m_window->bridge(), &EngineBridge::trainingFinished);
    training()->start();
    QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 1, 120000);
    QVERIFY(!finished.last().at(0).value<TrainingResult>().cancelled);
    QVERIFY(QFile::exists(run + QStringLiteral("/weights.h5")));
    QFile config(run + QStringLiteral("/config.json"));
    QVERIFY(config.open(QIODevice::ReadOnly));
    const QJsonObject model = QJsonDocument::fromJson(config.readAll()).object();
    const QString text = QString::fromUtf8(QJsonDocument(model).toJson());
    QVERIFY2(text.contains(QStringLiteral("\"cut_after\": \"c2\"")), qPrintable(text.left(400)));
    QVERIFY(text.contains(QStringLiteral("\"append\": \"conv:4:3,gap,dropout:0.2\"")));
}

void TestNetworkSurgery::undoSurgeryBringsTheModelBack() {
    training()->surgery()->undoSurgery();
    QTRY_VERIFY_WITH_TIMEOUT(row(layers(), QStringLiteral("out")) != nullptr, 10000);
    QVERIFY(row(layers(), QStringLiteral("predictions")) == nullptr);
    QVERIFY(training()->config().model.cutAfter.empty());
    QVERIFY(training()->config().model.append.empty());
}

void TestNetworkSurgery::cuttingABuiltInNetworkUsesItsKerasForm() {
    training()->setArchitecture(Architecture::SmallConvNet, Head::GlobalAveragePool);
    QTRY_VERIFY_WITH_TIMEOUT(row(layers(), QStringLiteral("global_average_pooling2d")) != nullptr,
                             10000);
    layers()->tree()->setCurrentItem(row(layers(), QStringLiteral("global_average_pooling2d")));
    QVERIFY(layers()->cutButton()->isEnabled());
    QTest::mouseClick(layers()->cutButton(), Qt::LeftButton);
    const TrainConfig c = training()->config();
    QCOMPARE(c.model.architecture, Architecture::Keras);
    QCOMPARE(c.model.cutAfter, std::string("global_average_pooling2d"));
    QVERIFY(c.model.kerasModel.find("max_pooling2d_2") != std::string::npos);
    QTRY_VERIFY_WITH_TIMEOUT(row(layers(), QStringLiteral("predictions")) != nullptr, 10000);
    QVERIFY(row(layers(), QStringLiteral("dense")) == nullptr);  // the old head is cut off
    QCOMPARE(row(layers(), QStringLiteral("conv2d_2"))->text(1), QStringLiteral("Conv2D"));
}

QTEST_MAIN(TestNetworkSurgery)
#include "tst_networksurgery.moc"
