#include "ui/dataset/balancedelegate.h"

#include "ui/dataset/classlistmodel.h"

#include <QApplication>
#include <QPainter>
#include <QStyle>

#include <algorithm>

namespace convscope::ui {

namespace {

constexpr int kMarginPx = 3;
constexpr int kMinimumBarWidthPx = 80;

}  // namespace

BalanceDelegate::BalanceDelegate(QObject* parent) : QStyledItemDelegate(parent) {}

void BalanceDelegate::paint(QPainter* painter, const QStyleOptionViewItem& option,
                            const QModelIndex& index) const {
    QStyleOptionViewItem opt = option;
    initStyleOption(&opt, index);
    const double fraction = std::clamp(index.data(Qt::DisplayRole).toDouble(), 0.0, 1.0);
    const QVariant count = index.data(ClassListModel::CountRole);
    const QString text = count.isValid() ? QString::number(count.toInt())
                                         : QStringLiteral("%1%").arg(qRound(fraction * 100));
    opt.text.clear();

    // The style draws the background and selection; the bar and text go on top of it.
    const QStyle* style = opt.widget ? opt.widget->style() : QApplication::style();
    style->drawControl(QStyle::CE_ItemViewItem, &opt, painter, opt.widget);

    const bool selected = opt.state & QStyle::State_Selected;
    const QPalette::ColorGroup group =
        opt.state & QStyle::State_Enabled ? QPalette::Normal : QPalette::Disabled;
    QColor barColor =
        opt.palette.color(group, selected ? QPalette::HighlightedText : QPalette::Highlight);
    barColor.setAlphaF(0.45F);

    const QRect track = opt.rect.adjusted(kMarginPx, kMarginPx, -kMarginPx, -kMarginPx);
    QRect bar = track;
    bar.setWidth(qRound(track.width() * fraction));

    painter->save();
    painter->setRenderHint(QPainter::Antialiasing, false);
    painter->setPen(opt.palette.color(group, QPalette::Mid));
    painter->setBrush(Qt::NoBrush);
    painter->drawRect(track.adjusted(0, 0, -1, -1));
    if (bar.width() > 0)
        painter->fillRect(bar, barColor);
    painter->setPen(
        opt.palette.color(group, selected ? QPalette::HighlightedText : QPalette::Text));
    painter->drawText(track.adjusted(kMarginPx, 0, -kMarginPx, 0), Qt::AlignVCenter | Qt::AlignLeft,
                      text);
    painter->restore();
}

QSize BalanceDelegate::sizeHint(const QStyleOptionViewItem& option,
                                const QModelIndex& index) const {
    QSize size = QStyledItemDelegate::sizeHint(option, index);
    size.setWidth(std::max(size.width(), kMinimumBarWidthPx));
    return size;
}

}  // namespace convscope::ui
