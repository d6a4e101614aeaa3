#include "ui/inspect/imagegridview.h"

#include <QMouseEvent>
#include <QPainter>

#include <algorithm>

namespace convscope::ui {

namespace {
constexpr int kGapPx = 4;
}

ImageGridView::ImageGridView(QWidget* parent) : QWidget(parent) {
    setMouseTracking(true);
    setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Preferred);
}

void ImageGridView::setTiles(const QList<QImage>& tiles, int columns, const QStringList& captions) {
    m_tiles = tiles;
    m_columns = columns;
    m_captions = captions.size() == tiles.size() ? captions : QStringList{};
    if (m_selected >= tileCount())
        m_selected = -1;
    m_hovered = -1;
    m_announce = true;
    relayout();
    update();
}

void ImageGridView::clear() {
    setTiles({});
}

void ImageGridView::setTileSize(int px) {
    m_tileSize = std::max(8, px);
    relayout();
    update();
}

void ImageGridView::setSelected(int index) {
    m_selected = index;
    update();
}

void ImageGridView::setPlaceholder(const QString& text) {
    m_placeholder = text;
    update();
}

int ImageGridView::columnCount() const {
    if (m_columns > 0)
        return m_columns;
    return std::max(1, (width() - kGapPx) / (m_tileSize + kGapPx));
}

int ImageGridView::captionHeight() const {
    return m_captions.isEmpty() ? 0 : fontMetrics().height();
}

QRect ImageGridView::cellRect(int index) const {
    const int columns = columnCount();
    const int row = index / columns, column = index % columns;
    const int cellHeight = m_tileSize + captionHeight();
    return {kGapPx + column * (m_tileSize + kGapPx), kGapPx + row * (cellHeight + kGapPx),
            m_tileSize, cellHeight};
}

QRect ImageGridView::imageRect(int index) const {
    if (index < 0 || index >= tileCount())
        return {};
    const QRect cell = cellRect(index);
    const QImage& image = m_tiles[index];
    if (image.isNull())
        return {cell.topLeft(), QSize(m_tileSize, m_tileSize)};
    const QSize fitted = image.size().scaled(m_tileSize, m_tileSize, Qt::KeepAspectRatio);
    return {cell.x() + (m_tileSize - fitted.width()) / 2,
            cell.y() + (m_tileSize - fitted.height()) / 2, fitted.width(), fitted.height()};
}

int ImageGridView::tileAt(const QPoint& pos) const {
    if (pos.x() < kGapPx || pos.y() < kGapPx)
        return -1;
    const int columns = columnCount();
    const int column = (pos.x() - kGapPx) / (m_tileSize + kGapPx);
    const int row = (pos.y() - kGapPx) / (m_tileSize + captionHeight() + kGapPx);
    if (column >= columns)
        return -1;
    const int index = row * columns + column;
    return index < tileCount() && cellRect(index).contains(pos) ? index : -1;
}

QPoint ImageGridView::imagePixelAt(int index, const QPoint& pos) const {
    const QRect r = imageRect(index);
    if (r.isEmpty() || !r.contains(pos))
        return {-1, -1};
    const QImage& image = m_tiles[index];
    return {std::min(image.width() - 1, (pos.x() - r.x()) * image.width() / r.width()),
            std::min(image.height() - 1, (pos.y() - r.y()) * image.height() / r.height())};
}

void ImageGridView::relayout() {
    const int columns = columnCount();
    const int rows = (tileCount() + columns - 1) / columns;
    const int height = rows == 0 ? 0 : kGapPx + rows * (m_tileSize + captionHeight() + kGapPx);
    setMinimumHeight(std::max(height, m_tiles.isEmpty() ? 60 : 0));
    if (m_columns > 0)
        setMinimumWidth(kGapPx + columns * (m_tileSize + kGapPx));
    else
        setMinimumWidth(m_tileSize + 2 * kGapPx);
    updateGeometry();
}

QSize ImageGridView::sizeHint() const {
    const int columns = m_columns > 0 ? m_columns : 8;
    return {kGapPx + columns * (m_tileSize + kGapPx), minimumHeight()};
}

void ImageGridView::resizeEvent(QResizeEvent* event) {
    QWidget::resizeEvent(event);
    if (m_columns <= 0)
        relayout();  // the flow depends on the width
}

void ImageGridView::paintEvent(QPaintEvent* event) {
    QPainter painter(this);
    painter.setRenderHint(QPainter::SmoothPixmapTransform, false);
    if (m_tiles.isEmpty()) {
        painter.setPen(palette().color(QPalette::PlaceholderText));
        painter.drawText(rect(), Qt::AlignCenter | Qt::TextWordWrap, m_placeholder);
        return;
    }
    const QRect exposed = event->rect();
    for (int i = 0; i < tileCount(); ++i) {
        const QRect cell = cellRect(i);
        if (!cell.adjusted(-2, -2, 2, 2).intersects(exposed))
            continue;
        painter.drawImage(imageRect(i), m_tiles[i]);
        if (!m_captions.isEmpty()) {
            painter.setPen(palette().color(QPalette::WindowText));
            painter.drawText(QRect(cell.x(), cell.y() + m_tileSize, cell.width(), captionHeight()),
                             Qt::AlignCenter, m_captions[i]);
        }
        if (i == m_selected || i == m_hovered) {
            painter.setPen(QPen(i == m_selected ? palette().color(QPalette::Highlight)
                                                : palette().color(QPalette::Midlight),
                                2));
            painter.setBrush(Qt::NoBrush);
            painter.drawRect(imageRect(i).adjusted(-1, -1, 1, 1));
        }
    }
    if (m_announce) {
        m_announce = false;
        Q_EMIT shown();
    }
}

void ImageGridView::mouseMoveEvent(QMouseEvent* event) {
    const QPoint pos = event->position().toPoint();
    const int index = tileAt(pos);
    if (index != m_hovered) {
        m_hovered = index;
        update();
    }
    Q_EMIT hovered(index, index < 0 ? QPoint(-1, -1) : imagePixelAt(index, pos));
}

void ImageGridView::mousePressEvent(QMouseEvent* event) {
    if (event->button() != Qt::LeftButton)
        return;
    const int index = tileAt(event->position().toPoint());
    if (index < 0)
        return;
    setSelected(index);
    Q_EMIT clicked(index);
}

void ImageGridView::leaveEvent(QEvent* event) {
    QWidget::leaveEvent(event);
    m_hovered = -1;
    update();
    Q_EMIT hovered(-1, {-1, -1});
}

}  // namespace convscope::ui
