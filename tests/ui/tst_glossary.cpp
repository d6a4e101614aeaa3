// Help > Glossary in the real main window under the offscreen platform: every term the seed
// material's "Key Terms" and the course need is there, the search filters them, each "Show me"
// link brings a real control into view, and the controls carry the glossary's tooltips.
#include "ui/help/controltips.h"
#include "ui/help/focushighlight.h"
#include "ui/help/glossary.h"
#include "ui/help/glossarydialog.h"
#include "ui/help/helpcontroller.h"
#include "ui/help/showme.h"
#include "ui/mainwindow.h"

#include <QAction>
#include <QDockWidget>
#include <QLineEdit>
#include <QMenuBar>
#include <QPushButton>
#include <QRegularExpression>
#include <QSignalSpy>
#include <QStackedWidget>
#include <QStandardPaths>
#include <QTabWidget>
#include <QTest>
#include <QTextBrowser>

using namespace convscope::ui;

namespace {

// Puts `target` out of sight the way a user would: another page of every tab widget above it,
// another dock of its dock's tab group in front (Qt moves that one off-screen rather than hiding
// it), or its dock closed.
void hideBehindSiblings(QWidget* target) {
    for (QWidget* w = target; w; w = w->parentWidget()) {
        if (auto* dock = qobject_cast<QDockWidget*>(w)) {
            auto* window = qobject_cast<QMainWindow*>(dock->parentWidget());
            const QList<QDockWidget*> siblings = window->tabifiedDockWidgets(dock);
            if (siblings.isEmpty())
                dock->hide();
            else
                siblings.front()->raise();
        }
        auto* stack = qobject_cast<QStackedWidget*>(w->parentWidget());
        auto* tabs = stack ? qobject_cast<QTabWidget*>(stack->parentWidget()) : nullptr;
        if (tabs && tabs->count() > 1)
            tabs->setCurrentIndex((tabs->indexOf(w) + 1) % tabs->count());
    }
}

QUrl linkIn(const QTextBrowser* browser) {
    static const QRegularExpression href(QStringLiteral("href=\"(showme:[^\"]+)\""));
    const QRegularExpressionMatch m = href.match(browser->toHtml());
    return m.hasMatch() ? QUrl(m.captured(1)) : QUrl();
}

}  // namespace

class TestGlossary : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void everyRequiredTermIsExplained_data();
    void everyRequiredTermIsExplained();
    void searchKeepsOnlyMatchingTerms();
    void helpMenuOpensTheGlossary();
    void showMeLinkRevealsAVisibleControl_data();
    void showMeLinkRevealsAVisibleControl();
    void keyControlsCarryTheGlossaryTooltip_data();
    void keyControlsCarryTheGlossaryTooltip();
    void panelTooltipIsKeptWhereTheTableHasNone();

private:
    std::unique_ptr<MainWindow> m_window;
};

void TestGlossary::initTestCase() {
    QStandardPaths::setTestModeEnabled(true);
    m_window = std::make_unique<MainWindow>();
    m_window->resize(1280, 800);
    m_window->show();
    QVERIFY(QTest::qWaitForWindowExposed(m_window.get()));
}

void TestGlossary::everyRequiredTermIsExplained_data() {
    QTest::addColumn<QString>("id");
    QTest::addColumn<QString>("word");  // must appear in the term or its explanation
    QTest::newRow("epoch") << QStringLiteral("epoch") << QStringLiteral("one pass");
    QTest::newRow("batch") << QStringLiteral("batch") << QStringLiteral("batch size");
    QTest::newRow("input shape") << QStringLiteral("inputShape") << QStringLiteral("channels last");
    QTest::newRow("channel order") << QStringLiteral("inputShape") << QStringLiteral("BGR");
    QTest::newRow("presets") << QStringLiteral("inputShape") << QStringLiteral("torchvision");
    QTest::newRow("learning rate") << QStringLiteral("learningRate") << QStringLiteral("schedule");
    QTest::newRow("optimizer") << QStringLiteral("optimizer") << QStringLiteral("momentum");
    QTest::newRow("augmentation") << QStringLiteral("augmentation") << QStringLiteral("random");
    QTest::newRow("validation split") << QStringLiteral("validationSplit") << QStringLiteral("20%");
    QTest::newRow("overfitting") << QStringLiteral("overfitting") << QStringLiteral("gap");
    QTest::newRow("transfer learning")
        << QStringLiteral("transferLearning") << QStringLiteral("pretrained");
    QTest::newRow("frozen layers") << QStringLiteral("frozenLayers") << QStringLiteral("freeze");
    QTest::newRow("bottleneck") << QStringLiteral("bottleneck") << QStringLiteral("once");
    QTest::newRow("activation maximization")
        << QStringLiteral("activationMaximization") << QStringLiteral("gradient");
    QTest::newRow("feature maps") << QStringLiteral("featureMaps") << QStringLiteral("channel");
    QTest::newRow("CAM") << QStringLiteral("cam") << QStringLiteral("global average pooling");
}

void TestGlossary::everyRequiredTermIsExplained() {
    QFETCH(QString, id);
    QFETCH(QString, word);
    const GlossaryEntry* e = Glossary::find(id);
    QVERIFY2(e, qPrintable(id));
    QVERIFY(!e->term.isEmpty());
    QVERIFY(e->summary.endsWith(QLatin1Char('.')));
    QVERIFY(!e->target.isEmpty());
    QVERIFY(!e->where.isEmpty());
    QVERIFY2((e->term + e->summary + e->body).contains(word, Qt::CaseInsensitive),
             qPrintable(word));
}

void TestGlossary::searchKeepsOnlyMatchingTerms() {
    GlossaryDialog dialog;
    QCOMPARE(dialog.visibleTerms().size(), Glossary::entries().size());
    dialog.setFilter(QStringLiteral("bgr"));
    QCOMPARE(dialog.visibleTerms(), QStringList{QStringLiteral("inputShape")});
    QCOMPARE(dialog.currentTerm(), QStringLiteral("inputShape"));
    QVERIFY(dialog.explanation()->toPlainText().contains(QStringLiteral("Channel order")));
    // Every word must match; words inside HTML tags do not count.
    dialog.setFilter(QStringLiteral("frozen backbone"));
    QVERIFY(dialog.visibleTerms().contains(QStringLiteral("frozenLayers")));
    QVERIFY(!dialog.visibleTerms().contains(QStringLiteral("epoch")));
    dialog.setFilter(QStringLiteral("href"));
    QVERIFY(dialog.visibleTerms().isEmpty());
    QVERIFY(!dialog.showMeButton()->isEnabled());
    QVERIFY(dialog.explanation()->toPlainText().contains(QStringLiteral("No term matches")));
    // Selecting a term the filter hides clears the filter.
    QVERIFY(dialog.selectTerm(QStringLiteral("cam")));
    QVERIFY(dialog.searchBox()->text().isEmpty());
    QCOMPARE(dialog.currentTerm(), QStringLiteral("cam"));
}

void TestGlossary::helpMenuOpensTheGlossary() {
    QAction* glossary = nullptr;
    for (QAction* menu : m_window->menuBar()->actions())
        if (menu->menu() && menu->text() == QStringLiteral("&Help"))
            for (QAction* a : menu->menu()->actions())
                if (a->text() == QStringLiteral("&Glossary"))
                    glossary = a;
    QVERIFY(glossary);
    QCOMPARE(glossary->shortcut(), QKeySequence(QKeySequence::HelpContents));
    glossary->trigger();
    QVERIFY(m_window->help()->glossary());
    QTRY_VERIFY(m_window->help()->glossary()->isVisible());
}

void TestGlossary::showMeLinkRevealsAVisibleControl_data() {
    QTest::addColumn<QString>("id");
    for (const GlossaryEntry& e : Glossary::entries())
        QTest::newRow(qPrintable(e.id)) << e.id;
}

void TestGlossary::showMeLinkRevealsAVisibleControl() {
    QFETCH(QString, id);
    m_window->help()->showGlossary(id);
    GlossaryDialog* dialog = m_window->help()->glossary();
    QCOMPARE(dialog->currentTerm(), id);
    const QUrl link = linkIn(dialog->explanation());
    QCOMPARE(link, GlossaryDialog::showMeUrl(Glossary::find(id)->target));

    QWidget* target = m_window->findChild<QWidget*>(link.path());
    QVERIFY2(target, qPrintable(link.path()));
    hideBehindSiblings(target);
    QTRY_VERIFY(!ShowMe::isShown(target));

    QSignalSpy requested(dialog, &GlossaryDialog::showMeRequested);
    Q_EMIT dialog->explanation()->anchorClicked(link);  // what clicking the link does
    QCOMPARE(requested.count(), 1);
    QTRY_VERIFY(ShowMe::isShown(target));
    FocusHighlight* highlight = FocusHighlight::current(m_window.get());
    QVERIFY(highlight);
    QCOMPARE(highlight->target(), target);
    QTRY_VERIFY(highlight->geometry().contains(
        QRect(target->mapTo(m_window.get(), QPoint(0, 0)), target->size())));
}

void TestGlossary::keyControlsCarryTheGlossaryTooltip_data() {
    QTest::addColumn<QString>("objectName");
    QTest::addColumn<QString>("term");
    const char* const rows[][2] = {
        {"trainingEpochs", "epoch"},
        {"trainingBatchSize", "batch"},
        {"trainingImageSize", "inputShape"},
        {"trainingOptimizer", "optimizer"},
        {"trainingLearningRate", "learningRate"},
        {"trainingStartingWeights", "transferLearning"},
        {"trainingBottleneck", "bottleneck"},
        {"trainingLayerTree", "frozenLayers"},
        {"overfitNote", "overfitting"},
        {"augmentEnabled", "augmentation"},
        {"augment:rotation_range", "augmentation"},
        {"augment:zoom_range", "augmentation"},
        {"augment:horizontal_flip", "augmentation"},
        {"filtersComputeLayer", "activationMaximization"},
        {"featureMapsLayer", "featureMaps"},
        {"camMethod", "cam"},
    };
    for (const auto& r : rows)
        QTest::newRow(r[0]) << QString::fromLatin1(r[0]) << QString::fromLatin1(r[1]);
}

void TestGlossary::keyControlsCarryTheGlossaryTooltip() {
    QFETCH(QString, objectName);
    QFETCH(QString, term);
    QWidget* control = m_window->findChild<QWidget*>(objectName);
    QVERIFY2(control, qPrintable(objectName));
    QCOMPARE(ControlTips::termOf(objectName), term);
    const QString tip = control->toolTip();
    const GlossaryEntry* e = Glossary::find(term);
    QVERIFY(tip.contains(e->term.toHtmlEscaped()));
    QVERIFY(tip.contains(e->summary.toHtmlEscaped()));
    QVERIFY(Qt::mightBeRichText(tip));
    // Applying again leaves the tooltip as it is.
    ControlTips::apply(m_window.get());
    QCOMPARE(control->toolTip(), tip);
}

void TestGlossary::panelTooltipIsKeptWhereTheTableHasNone() {
    // The batch box's own line (what "auto" does) stays, the glossary's definition follows it;
    // an augmentation spin box keeps its Keras name inside the table's line.
    const QString batch =
        m_window->findChild<QWidget*>(QStringLiteral("trainingBatchSize"))->toolTip();
    QVERIFY(batch.contains(QStringLiteral("auto: the largest power of two")));
    QVERIFY(batch.indexOf(QStringLiteral("auto:")) < batch.indexOf(QStringLiteral("<b>")));
    const QString rotation =
        m_window->findChild<QWidget*>(QStringLiteral("augment:rotation_range"))->toolTip();
    QVERIFY(rotation.contains(QStringLiteral("(rotation_range)")));
    QVERIFY(rotation.contains(QStringLiteral("degrees")));
}

QTEST_MAIN(TestGlossary)
#include "tst_glossary.moc"
