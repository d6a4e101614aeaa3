#pragma once

#include <QImage>
#include <QList>
#include <QStringList>
#include <QWidget>

namespace convscope::ui {

/// Small images in a grid, each scaled up without smoothing (kernels and activation maps are
/// meant to be seen pixel by pixel), with an optional caption under each. Reports the tile and
/// the image pixel under the mouse, and clicks. Flows as many tiles per row as the width
/// allows, or a fixed number of columns (one row per filter, one column per input channel).
/// Meant to sit in a QScrollArea with widgetResizable.
class ImageGridView : public QWidget {
    Q_OBJECT
public:
    explicit ImageGridView(QWidget* parent = nullptr);

    /// columns <= 0: flow. captions: none, or one per tile.
    void setTiles(const QList<QImage>& tiles, int columns = 0, const QStringList& captions = {});
    void clear();
    /// Side of the square cell each tile is fitted into (aspect kept).
    void setTileSize(int px);
    int tileSize() const { return m_tileSize; }
    void setSelected(int index);
    int selected() const { return m_selected; }
    /// Shown when there are no tiles.
    void setPlaceholder(const QString& text);

    int tileCount() const { return int(m_tiles.size()); }
    const QImage& tile(int index) const { return m_tiles.at(index); }
    /// Where a tile's image is drawn, in widget coordinates.
    QRect imageRect(int index) const;
    /// The tile under a widget position, or -1.
    int tileAt(const QPoint& pos) const;
    /// The tile image's pixel under a widget position inside imageRect(index).
    QPoint imagePixelAt(int index, const QPoint& pos) const;

    QSize sizeHint() const override;

Q_SIGNALS:
    /// index -1 when the mouse left the tiles.
    void hovered(int index, const QPoint& pixel);
    void clicked(int index);
    /// Tiles set by setTiles() were painted for the first time.
    void shown();

protected:
    void paintEvent(QPaintEvent* event) override;
    void mouseMoveEvent(QMouseEvent* event) override;
    void mousePressEvent(QMouseEvent* event) override;
    void leaveEvent(QEvent* event) override;
    void resizeEvent(QResizeEvent* event) override;

private:
    int columnCount() const;
    int captionHeight() const;
    QRect cellRect(int index) const;
    void relayout();

    QList<QImage> m_tiles;
    QStringList m_captions;
    QString m_placeholder;
    int m_columns = 0;
    int m_tileSize = 64;
    int m_selected = -1;
    int m_hovered = -1;
    bool m_announce = false;
};

}  // namespace convscope::ui
