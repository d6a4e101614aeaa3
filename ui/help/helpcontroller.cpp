#include "ui/help/helpcontroller.h"

#include "ui/help/controltips.h"
#include "ui/help/glossarydialog.h"
#include "ui/help/showme.h"
#include "ui/mainwindow.h"
#include "ui/training/batchhint.h"
#include "ui/training/trainingpanel.h"
#include "ui/training/transferadvice.h"

#include <QLineEdit>
#include <QScreen>

namespace convscope::ui {

HelpController::HelpController(MainWindow* window) : QObject(window), m_window(window) {
    setObjectName(QStringLiteral("helpController"));
    ControlTips::apply(window);
    TrainingPanel* training = window->trainingPanel();
    connect(window->bridge(), &EngineBridge::imported, this, &HelpController::onImported);
    connect(training, &TrainingPanel::trainingStateChanged, this,
            &HelpController::onTrainingStateChanged);
    connect(training->transferAdvice(), &TransferAdvice::startingWeightsRequested, this,
            [this] { showMe(QStringLiteral("trainingStartingWeights")); });
    if (auto* weights = window->findChild<QLineEdit*>(QStringLiteral("trainingStartingWeights")))
        connect(weights, &QLineEdit::textChanged, this, [training](const QString& text) {
            if (!text.trimmed().isEmpty())
                training->transferAdvice()->dismiss();
        });
}

void HelpController::showGlossary(const QString& id) {
    if (!m_glossary) {
        m_glossary = new GlossaryDialog(m_window);
        connect(m_glossary, &GlossaryDialog::showMeRequested, this, &HelpController::showMe);
    }
    if (!id.isEmpty())
        m_glossary->selectTerm(id);
    m_glossary->show();
    m_glossary->raise();
    m_glossary->activateWindow();
}

GlossaryDialog* HelpController::glossary() const {
    return m_glossary;
}

bool HelpController::showMe(const QString& objectName) {
    QWidget* target = ShowMe::find(m_window, objectName);
    if (!ShowMe::reveal(target))
        return false;
    moveGlossaryOffTarget(target);
    return true;
}

void HelpController::moveGlossaryOffTarget(QWidget* target) {
    // The glossary stays open for the next term, but must not hide what it points at.
    if (!m_glossary || !m_glossary->isVisible())
        return;
    const QRect shown(target->mapToGlobal(QPoint(0, 0)), target->size());
    QRect frame = m_glossary->frameGeometry();
    if (!frame.intersects(shown))
        return;
    const QRect screen = m_window->screen()->availableGeometry();
    if (shown.left() - screen.left() >= screen.right() - shown.right())
        frame.moveRight(std::max(shown.left() - 8, screen.left() + frame.width()));
    else
        frame.moveLeft(std::min(shown.right() + 8, screen.right() - frame.width()));
    m_glossary->move(frame.topLeft());
}

void HelpController::onImported(DatasetPtr dataset) {
    TrainingPanel* training = m_window->trainingPanel();
    QStringList names;
    QList<int> counts;
    for (std::size_t c = 0; c < dataset->classNames().size(); ++c) {
        names << QString::fromStdString(dataset->classNames()[c]);
        counts << int(dataset->count(int(c), Split::Train));
    }
    training->batchHint()->setTrainingImages(int(dataset->indices(Split::Train).size()));
    training->transferAdvice()->setClasses(names, counts,
                                           !training->config().initialWeights.empty());
}

void HelpController::onTrainingStateChanged(bool running) {
    TrainingPanel* training = m_window->trainingPanel();
    if (running && training->config().initialWeights.empty())
        training->transferAdvice()->remindAtStart();
}

}  // namespace convscope::ui
