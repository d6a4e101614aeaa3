#include "ui/help/focushighlight.h"

#include "ui/help/showme.h"

#include <QEvent>
#include <QPainter>
#include <QTimer>

namespace convscope::ui {

namespace {
constexpr int kMarginPx = 4;
constexpr int kPenPx = 3;
}  // namespace

FocusHighlight::FocusHighlight(QWidget* target) : QWidget(target->window()), m_target(target) {
    setObjectName(QStringLiteral("focusHighlight"));
    setAttribute(Qt::WA_TransparentForMouseEvents);
    setAttribute(Qt::WA_NoSystemBackground);
    setFocusPolicy(Qt::NoFocus);
    target->installEventFilter(this);
    window()->installEventFilter(this);
}

FocusHighlight* FocusHighlight::current(QWidget* window) {
    return window ? window->findChild<FocusHighlight*>(QStringLiteral("focusHighlight"),
                                                       Qt::FindDirectChildrenOnly)
                  : nullptr;
}

FocusHighlight* FocusHighlight::flash(QWidget* target, int durationMs) {
    delete current(target->window());
    auto* h = new FocusHighlight(target);
    // Tabs and docks switched just now lay out on the next turn of the event loop.
    QTimer::singleShot(0, h, &FocusHighlight::follow);
    QTimer::singleShot(durationMs, h, &QObject::deleteLater);
    h->follow();
    return h;
}

void FocusHighlight::follow() {
    if (!ShowMe::isShown(m_target)) {
        hide();
        return;
    }
    const QPoint topLeft = m_target->mapTo(window(), QPoint(0, 0));
    setGeometry(
        QRect(topLeft, m_target->size()).adjusted(-kMarginPx, -kMarginPx, kMarginPx, kMarginPx));
    raise();
    show();
}

bool FocusHighlight::eventFilter(QObject* watched, QEvent* event) {
    switch (event->type()) {
        case QEvent::Move:
        case QEvent::Resize:
        case QEvent::Show:
        case QEvent::Hide:
        case QEvent::LayoutRequest:
            QTimer::singleShot(0, this, &FocusHighlight::follow);
            break;
        default:
            break;
    }
    return QWidget::eventFilter(watched, event);
}

void FocusHighlight::paintEvent(QPaintEvent*) {
    QPainter painter(this);
    painter.setRenderHint(QPainter::Antialiasing);
    QPen pen(QColor(255, 140, 0));
    pen.setWidth(kPenPx);
    painter.setPen(pen);
    painter.setBrush(QColor(255, 200, 0, 40));
    painter.drawRoundedRect(QRectF(rect()).adjusted(1.5, 1.5, -1.5, -1.5), 5, 5);
}

}  // namespace convscope::ui
