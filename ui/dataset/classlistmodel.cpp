#include "ui/dataset/classlistmodel.h"

#include <algorithm>

namespace convscope::ui {

ClassListModel::ClassListModel(QObject* parent) : QAbstractTableModel(parent) {}

void ClassListModel::setDataset(DatasetPtr dataset) {
    beginResetModel();
    m_dataset = std::move(dataset);
    m_counts.clear();
    m_largest = 0;
    if (m_dataset) {
        // One pass over the samples: DatasetIndex::count walks them all for every call.
        m_counts.resize(qsizetype(m_dataset->classNames().size()));
        for (const Sample& sample : m_dataset->samples()) {
            if (!sample.usable || sample.label < 0 || sample.label >= m_counts.size())
                continue;
            Counts& counts = m_counts[sample.label];
            ++(sample.split == Split::Train ? counts.train : counts.validation);
        }
        for (const Counts& counts : std::as_const(m_counts))
            m_largest = std::max(m_largest, counts.total());
    }
    endResetModel();
}

int ClassListModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : int(m_counts.size());
}

int ClassListModel::columnCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant ClassListModel::data(const QModelIndex& index, int role) const {
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const Counts& counts = m_counts[index.row()];
    const double balance = m_largest > 0 ? double(counts.total()) / m_largest : 0.0;
    switch (role) {
        case Qt::DisplayRole:
            switch (index.column()) {
                case NameColumn:
                    return QString::fromStdString(m_dataset->classNames()[size_t(index.row())]);
                case TrainColumn:
                    return counts.train;
                case ValidationColumn:
                    return counts.validation;
                case BalanceColumn:
                    return balance;
            }
            break;
        case Qt::ToolTipRole:
            if (index.column() == BalanceColumn) {
                return tr("%1 images, %2% of the largest class")
                    .arg(counts.total())
                    .arg(qRound(balance * 100));
            }
            break;
        case Qt::TextAlignmentRole:
            if (index.column() == TrainColumn || index.column() == ValidationColumn)
                return QVariant::fromValue(Qt::AlignRight | Qt::AlignVCenter);
            break;
        case CountRole:
            return counts.total();
        case LabelRole:
            return index.row();
    }
    return {};
}

QVariant ClassListModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    switch (section) {
        case NameColumn:
            return tr("Class");
        case TrainColumn:
            return tr("Train");
        case ValidationColumn:
            return tr("Validation");
        case BalanceColumn:
            return tr("Balance");
    }
    return {};
}

}  // namespace convscope::ui
