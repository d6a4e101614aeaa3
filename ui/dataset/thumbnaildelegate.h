#pragma once

#include <QStyledItemDelegate>

namespace convscope::ui {

// Gives every thumbnail cell the same size, whatever its file name: with uniform item sizes
// the view asks only the first row, and a long first name would otherwise widen them all.
class ThumbnailDelegate : public QStyledItemDelegate {
    Q_OBJECT
public:
    explicit ThumbnailDelegate(int thumbnailSizePx, QObject* parent = nullptr);

    QSize sizeHint(const QStyleOptionViewItem& option, const QModelIndex& index) const override;

private:
    int m_thumbnailSizePx;
};

}  // namespace convscope::ui
