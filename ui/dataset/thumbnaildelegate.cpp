#include "ui/dataset/thumbnaildelegate.h"

#include <QFontMetrics>

namespace convscope::ui {

namespace {

constexpr int kPaddingPx = 6;

}  // namespace

ThumbnailDelegate::ThumbnailDelegate(int thumbnailSizePx, QObject* parent)
    : QStyledItemDelegate(parent), m_thumbnailSizePx(thumbnailSizePx) {}

QSize ThumbnailDelegate::sizeHint(const QStyleOptionViewItem& option,
                                  const QModelIndex& /*index*/) const {
    const int textHeightPx = option.fontMetrics.height();
    return {m_thumbnailSizePx + 2 * kPaddingPx, m_thumbnailSizePx + textHeightPx + 3 * kPaddingPx};
}

}  // namespace convscope::ui
