#include "ui/help/showme.h"

#include "ui/help/focushighlight.h"

#include <QDockWidget>
#include <QScrollArea>
#include <QStackedWidget>
#include <QTabWidget>

namespace convscope::ui {

QWidget* ShowMe::find(QWidget* root, const QString& objectName) {
    return root && !objectName.isEmpty() ? root->findChild<QWidget*>(objectName) : nullptr;
}

bool ShowMe::reveal(QWidget* target) {
    if (!target)
        return false;
    QList<QWidget*> chain;  // the window first, the target last
    for (QWidget* w = target; w; w = w->parentWidget())
        chain.prepend(w);
    for (QWidget* w : chain) {
        if (auto* dock = qobject_cast<QDockWidget*>(w)) {
            dock->show();
            dock->raise();  // brings a tabified dock to the front
        }
        auto* stack = qobject_cast<QStackedWidget*>(w->parentWidget());
        if (!stack)
            continue;
        if (auto* tabs = qobject_cast<QTabWidget*>(stack->parentWidget()))
            tabs->setCurrentWidget(w);
        else
            stack->setCurrentWidget(w);
    }
    for (QWidget* w = target->parentWidget(); w; w = w->parentWidget())
        if (auto* area = qobject_cast<QScrollArea*>(w))
            area->ensureWidgetVisible(target);
    QWidget* window = target->window();
    window->show();
    window->raise();
    window->activateWindow();
    if (target->focusPolicy() != Qt::NoFocus)
        target->setFocus(Qt::OtherFocusReason);
    else if (QWidget* child = target->nextInFocusChain(); child && target->isAncestorOf(child))
        child->setFocus(Qt::OtherFocusReason);
    FocusHighlight::flash(target);
    return true;
}

bool ShowMe::isShown(const QWidget* widget) {
    return widget && widget->isVisible() && !widget->visibleRegion().isEmpty();
}

}  // namespace convscope::ui
