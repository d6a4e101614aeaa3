#include "ui/dataset/flaggedfilesmodel.h"

namespace convscope::ui {

FlaggedFilesModel::FlaggedFilesModel(QObject* parent) : QAbstractTableModel(parent) {}

void FlaggedFilesModel::setDataset(DatasetPtr dataset) {
    beginResetModel();
    m_dataset = std::move(dataset);
    endResetModel();
}

int FlaggedFilesModel::skippedCount() const {
    return m_dataset ? int(m_dataset->report().skipped.size()) : 0;
}

int FlaggedFilesModel::warningCount() const {
    return m_dataset ? int(m_dataset->report().warnings.size()) : 0;
}

int FlaggedFilesModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : skippedCount() + warningCount();
}

int FlaggedFilesModel::columnCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant FlaggedFilesModel::data(const QModelIndex& index, int role) const {
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const ImportReport& report = m_dataset->report();
    const int row = index.row();
    const bool isWarning = row >= skippedCount();
    if (role == IsWarningRole)
        return isWarning;
    if (role != Qt::DisplayRole && role != Qt::ToolTipRole)
        return {};
    if (isWarning) {
        if (index.column() == PathColumn)
            return QString();
        return QString::fromStdString(report.warnings[size_t(row - skippedCount())]);
    }
    const SkippedFile& skipped = report.skipped[size_t(row)];
    if (index.column() == PathColumn) {
        return role == Qt::ToolTipRole
                   ? QString::fromStdString(m_dataset->root() + '/' + skipped.path)
                   : QString::fromStdString(skipped.path);
    }
    return QString::fromStdString(skipped.reason);
}

QVariant FlaggedFilesModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    switch (section) {
        case PathColumn:
            return tr("File");
        case ReasonColumn:
            return tr("Reason");
    }
    return {};
}

}  // namespace convscope::ui
