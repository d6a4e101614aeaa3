#include "ui/dataset/thumbnailmodel.h"

#include <QFileInfo>
#include <QPainter>

#include <algorithm>

namespace convscope::ui {

ThumbnailModel::ThumbnailModel(QObject* parent)
    : QAbstractListModel(parent), m_cache(kDefaultCacheEntries) {}

void ThumbnailModel::setDataset(DatasetPtr dataset) {
    m_dataset = std::move(dataset);
    m_classFilter = -1;
    m_cache.clear();
    rebuildRows();
}

void ThumbnailModel::setClassFilter(int label) {
    if (label < 0)
        label = -1;
    if (label == m_classFilter)
        return;
    m_classFilter = label;
    rebuildRows();
}

void ThumbnailModel::setThumbnailSize(int sizePx) {
    sizePx = std::max(sizePx, 1);
    if (sizePx == m_thumbnailSizePx)
        return;
    m_thumbnailSizePx = sizePx;
    m_placeholder = QPixmap();
    m_cache.clear();
    m_pending.clear();
    if (!m_paths.isEmpty())
        Q_EMIT dataChanged(index(0), index(int(m_paths.size()) - 1), {Qt::DecorationRole});
}

void ThumbnailModel::rebuildRows() {
    beginResetModel();
    m_sampleOfRow.clear();
    m_paths.clear();
    m_rowOfPath.clear();
    m_pending.clear();
    if (m_dataset) {
        const std::vector<Sample>& samples = m_dataset->samples();
        for (std::size_t i = 0; i < samples.size(); ++i) {
            const Sample& sample = samples[i];
            if (!sample.usable || (m_classFilter >= 0 && sample.label != m_classFilter))
                continue;
            QString path = QString::fromStdString(sample.path);
            m_rowOfPath.insert(path, int(m_paths.size()));
            m_paths.append(std::move(path));
            m_sampleOfRow.append(int(i));
        }
    }
    endResetModel();
}

void ThumbnailModel::requestThumbnails(int first, int last) {
    first = std::max(first, 0);
    last = std::min(last, int(m_paths.size()) - 1);
    QSet<QString> stillPending;
    for (int row = last; row >= first; --row) {
        const QString& path = m_paths[row];
        if (m_cache.contains(path))
            continue;
        stillPending.insert(path);
        if (!m_pending.contains(path))
            Q_EMIT thumbnailRequested(path, m_thumbnailSizePx);
    }
    m_pending = std::move(stillPending);
}

void ThumbnailModel::onThumbnailReady(const QString& path, const QImage& image) {
    // Answers for rows filtered out since, or for other users of the bridge, are not kept.
    const int row = m_rowOfPath.value(path, -1);
    if (row < 0)
        return;
    m_pending.remove(path);
    const QPixmap pixmap = image.isNull() ? placeholder() : toSquarePixmap(image);
    m_cache.insert(path, new QPixmap(pixmap));
    Q_EMIT dataChanged(index(row), index(row), {Qt::DecorationRole});
}

QPixmap ThumbnailModel::toSquarePixmap(const QImage& image) const {
    // Uniform squares keep the grid regular whatever the images' shapes.
    const int side = m_thumbnailSizePx;
    QPixmap pixmap(side, side);
    pixmap.fill(Qt::transparent);
    QPainter painter(&pixmap);
    painter.setRenderHint(QPainter::SmoothPixmapTransform);
    const QSize fitted = image.size().scaled(side, side, Qt::KeepAspectRatio);
    const QRect target(QPoint((side - fitted.width()) / 2, (side - fitted.height()) / 2), fitted);
    painter.drawImage(target, image);
    return pixmap;
}

const QPixmap& ThumbnailModel::placeholder() const {
    if (m_placeholder.isNull()) {
        m_placeholder = QPixmap(m_thumbnailSizePx, m_thumbnailSizePx);
        m_placeholder.fill(QColor(128, 128, 128, 48));
    }
    return m_placeholder;
}

int ThumbnailModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : int(m_paths.size());
}

QVariant ThumbnailModel::data(const QModelIndex& index, int role) const {
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const QString& path = m_paths[index.row()];
    switch (role) {
        case Qt::DisplayRole:
            return QFileInfo(path).fileName();
        case Qt::ToolTipRole: {
            const Sample& sample = m_dataset->samples()[size_t(m_sampleOfRow[index.row()])];
            return tr("%1\n%2 · %3 × %4 px")
                .arg(QString::fromStdString(m_dataset->relativePath(sample.path)),
                     QLatin1String(splitName(sample.split)), QString::number(sample.width),
                     QString::number(sample.height));
        }
        case Qt::DecorationRole:
            if (const QPixmap* cached = m_cache.object(path))
                return *cached;
            return placeholder();
        case PathRole:
            return path;
        case SampleIndexRole:
            return m_sampleOfRow[index.row()];
    }
    return {};
}

}  // namespace convscope::ui
