#pragma once

#include "ui/engine/enginebridge.h"

#include <QAbstractTableModel>
#include <QVector>

namespace convscope::ui {

// One row per class of a dataset: its name, usable images per split, and how it compares
// with the largest class (the balance column, drawn as a bar by BalanceDelegate).
class ClassListModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column { NameColumn, TrainColumn, ValidationColumn, BalanceColumn, ColumnCount };
    enum Role {
        // Usable images of the class, both splits (int), on every column.
        CountRole = Qt::UserRole + 1,
        // The class label (int), on every column.
        LabelRole,
    };

    explicit ClassListModel(QObject* parent = nullptr);

    void setDataset(DatasetPtr dataset);
    DatasetPtr dataset() const { return m_dataset; }

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation,
                        int role = Qt::DisplayRole) const override;

private:
    struct Counts {
        int train = 0;
        int validation = 0;
        int total() const { return train + validation; }
    };

    DatasetPtr m_dataset;
    QVector<Counts> m_counts;
    int m_largest = 0;
};

}  // namespace convscope::ui
