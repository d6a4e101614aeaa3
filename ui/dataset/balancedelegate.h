#pragma once

#include <QStyledItemDelegate>

namespace convscope::ui {

// Draws a fraction in [0, 1] (the item's DisplayRole) as a horizontal bar in the palette's
// highlight colour, with ClassListModel::CountRole written over it (the percentage when the
// item has no count).
class BalanceDelegate : public QStyledItemDelegate {
    Q_OBJECT
public:
    explicit BalanceDelegate(QObject* parent = nullptr);

    void paint(QPainter* painter, const QStyleOptionViewItem& option,
               const QModelIndex& index) const override;
    QSize sizeHint(const QStyleOptionViewItem& option, const QModelIndex& index) const override;
};

}  // namespace convscope::ui
