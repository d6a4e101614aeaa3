#pragma once

#include "ui/engine/enginebridge.h"

#include <QAbstractListModel>
#include <QCache>
#include <QHash>
#include <QPixmap>
#include <QSet>
#include <QStringList>
#include <QVector>

namespace convscope::ui {

// The usable images of a dataset, or of one class, as a list of thumbnails.
//
// The model decodes nothing. Whoever shows it calls requestThumbnails() with the rows near
// the viewport; the model asks for those not cached through thumbnailRequested() and is
// answered through onThumbnailReady(). Until then DecorationRole is a neutral placeholder.
// Thumbnails live in a bounded cache, so memory stays flat on large datasets.
class ThumbnailModel : public QAbstractListModel {
    Q_OBJECT
public:
    enum Role {
        PathRole = Qt::UserRole + 1,  // full path of the image (QString)
        SampleIndexRole,              // index into DatasetIndex::samples() (int)
    };

    static constexpr int kDefaultThumbnailSizePx = 96;
    static constexpr int kDefaultCacheEntries = 2000;

    explicit ThumbnailModel(QObject* parent = nullptr);

    void setDataset(DatasetPtr dataset);
    DatasetPtr dataset() const { return m_dataset; }

    // Shows only the images of class `label`; -1 shows every class.
    void setClassFilter(int label);
    int classFilter() const { return m_classFilter; }

    // Side of the square thumbnails, in pixels. Clears the cache.
    void setThumbnailSize(int sizePx);
    int thumbnailSize() const { return m_thumbnailSizePx; }

    void setCacheCapacity(int entries) { m_cache.setMaxCost(entries); }
    int cacheCapacity() const { return int(m_cache.maxCost()); }
    bool hasThumbnail(const QString& path) const { return m_cache.contains(path); }

    // Row of the image at `path` under the current filter, or -1.
    int rowOfPath(const QString& path) const { return m_rowOfPath.value(path, -1); }
    QString pathAt(int row) const { return m_paths.value(row); }

    // Asks for the thumbnails of rows [first, last] that are neither cached nor already
    // asked for; forgets earlier requests outside that range, so rows scrolled away and
    // back are asked for again. Requests go out last row first: a newest-first decoder
    // then answers the top of the range first.
    void requestThumbnails(int first, int last);

    int rowCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;

public Q_SLOTS:
    // Stores a decoded thumbnail (scaled to fit, centred on a transparent square) and
    // updates its row. A null image stands for one that could not be decoded: the row
    // keeps its placeholder and is not asked for again.
    void onThumbnailReady(const QString& path, const QImage& image);

Q_SIGNALS:
    void thumbnailRequested(const QString& path, int sizePx);

private:
    void rebuildRows();
    QPixmap toSquarePixmap(const QImage& image) const;
    const QPixmap& placeholder() const;

    DatasetPtr m_dataset;
    int m_classFilter = -1;
    int m_thumbnailSizePx = kDefaultThumbnailSizePx;
    QVector<int> m_sampleOfRow;
    QStringList m_paths;
    QHash<QString, int> m_rowOfPath;
    QSet<QString> m_pending;
    QCache<QString, QPixmap> m_cache;
    mutable QPixmap m_placeholder;  // made on first use: a QPixmap needs the application
};

}  // namespace convscope::ui
