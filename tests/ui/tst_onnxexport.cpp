// File > Export ONNX…: the weights used for classifying, written as an ONNX model on the jobs
// thread; failures come back as the user's own request (a dialog).
#include "io/modelweights.h"
#include "io/onnxexport.h"
#include "models/classifier.h"
#include "ui/mainwindow.h"

#include <QAction>
#include <QApplication>
#include <QFileDialog>
#include <QFileInfo>
#include <QMessageBox>
#include <QSignalSpy>
#include <QStatusBar>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>
#include <QTimer>

#include <algorithm>

using namespace convscope;
using namespace convscope::ui;

namespace {

/// Answers the next file dialog with `path`, as a person typing it would.
void answerNextFileDialog(const QString& path) {
    auto* timer = new QTimer(qApp);
    timer->setInterval(20);
    QObject::connect(timer, &QTimer::timeout, timer, [timer, path] {
        auto* dialog = qobject_cast<QFileDialog*>(QApplication::activeModalWidget());
        if (!dialog)
            return;
        timer->stop();
        timer->deleteLater();
        dialog->selectFile(path);
        static_cast<QDialog*>(dialog)->accept();  // QFileDialog::accept is protected
    });
    timer->start();
}

}  // namespace

class TestOnnxExport : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void exportOnnxActionWritesTheClassifyingWeights();
    void exportWithoutWeightsFailsAsTheUsersRequest();
    void unreadableWeightsFailWithTheirReasonAndWriteNothing();

private:
    QTemporaryDir m_dir;
    QString m_weights;
};

void TestOnnxExport::initTestCase() {
    QStandardPaths::setTestModeEnabled(true);
    QVERIFY(m_dir.isValid());
    ModelConfig config;
    config.architecture = Architecture::SmallConvNet;
    config.head = Head::GlobalAveragePool;
    config.inputSize = 32;
    config.classCount = 2;
    WeightsMetadata metadata;
    metadata.model = config;
    metadata.classNames = {"cat", "dog"};
    m_weights = m_dir.filePath(QStringLiteral("pets.h5"));
    saveModelWeights(m_weights.toStdString(), *makeClassifier(config), metadata);
}

void TestOnnxExport::exportOnnxActionWritesTheClassifyingWeights() {
    MainWindow window;
    window.show();
    window.loadWeights(m_weights);
    auto* action = window.findChild<QAction*>(QStringLiteral("exportOnnxAction"));
    QVERIFY(action);
    QVERIFY(action->text().contains(QStringLiteral("ONNX")));
    QSignalSpy exported(window.bridge(), &EngineBridge::onnxExported);
    QSignalSpy failed(window.bridge(), &EngineBridge::failed);
    const QString out = m_dir.filePath(QStringLiteral("pets.onnx"));
    answerNextFileDialog(out);
    action->trigger();
    QTRY_COMPARE_WITH_TIMEOUT(exported.count(), 1, 60000);
    for (const QList<QVariant>& s : failed)
        QVERIFY2(s.at(0).toString() != QStringLiteral("Export ONNX"),
                 qPrintable(s.at(1).toString()));
    QCOMPARE(exported.first().at(0).toString(), out);

    const OnnxModelInfo info = describeOnnxFile(out.toStdString());
    QCOMPARE(info.opset, 17);
    QCOMPARE(info.inputs.at(0).name, std::string("input"));
    QCOMPARE(info.inputs.at(0).dims, (std::vector<std::string>{"batch", "3", "32", "32"}));
    QCOMPARE(info.outputs.at(0).name, std::string("logits"));
    QCOMPARE(info.outputs.at(0).dims, (std::vector<std::string>{"batch", "2"}));
    QCOMPARE(info.metadata.at("class_names"), std::string(R"(["cat","dog"])"));
    QVERIFY(window.statusBar()->currentMessage().contains(out));
}

void TestOnnxExport::exportWithoutWeightsFailsAsTheUsersRequest() {
    MainWindow window;
    QSignalSpy exported(window.bridge(), &EngineBridge::onnxExported);
    const QString out = m_dir.filePath(QStringLiteral("none.onnx"));
    window.exportOnnx(out);
    auto* box = window.findChild<QMessageBox*>(QStringLiteral("failureBox"));
    QVERIFY(box);
    QVERIFY(box->text().contains(QStringLiteral("no model")));
    QCOMPARE(exported.count(), 0);
    QVERIFY(!QFileInfo::exists(out));
}

void TestOnnxExport::unreadableWeightsFailWithTheirReasonAndWriteNothing() {
    MainWindow window;
    const QString bogus = m_dir.filePath(QStringLiteral("bogus.h5"));
    QFile file(bogus);
    QVERIFY(file.open(QIODevice::WriteOnly));
    file.write("not an HDF5 file");
    file.close();
    window.loadWeights(bogus);
    QSignalSpy failed(window.bridge(), &EngineBridge::failed);
    const QString out = m_dir.filePath(QStringLiteral("bogus.onnx"));
    window.exportOnnx(out);
    QTRY_VERIFY_WITH_TIMEOUT(std::any_of(failed.begin(), failed.end(),
                                         [](const QList<QVariant>& s) {
                                             return s.at(0).toString() ==
                                                    QStringLiteral("Export ONNX");
                                         }),
                             30000);
    for (const QList<QVariant>& s : failed) {
        if (s.at(0).toString() != QStringLiteral("Export ONNX"))
            continue;
        QVERIFY(s.at(1).toString().contains(bogus));
        QCOMPARE(s.at(2).value<Origin>(), Origin::User);
    }
    QVERIFY(!QFileInfo::exists(out));
}

QTEST_MAIN(TestOnnxExport)
#include "tst_onnxexport.moc"
