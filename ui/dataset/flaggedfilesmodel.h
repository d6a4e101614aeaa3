#pragma once

#include "ui/engine/enginebridge.h"

#include <QAbstractTableModel>

namespace convscope::ui {

// What an import left out and why: one row per skipped file (path relative to the dataset
// root, reason), then one row per dataset-wide warning, with an empty path.
class FlaggedFilesModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column { PathColumn, ReasonColumn, ColumnCount };
    enum Role {
        IsWarningRole = Qt::UserRole + 1,  // bool: a dataset-wide warning, not a file
    };

    explicit FlaggedFilesModel(QObject* parent = nullptr);

    void setDataset(DatasetPtr dataset);
    DatasetPtr dataset() const { return m_dataset; }

    int skippedCount() const;
    int warningCount() const;

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation,
                        int role = Qt::DisplayRole) const override;

private:
    DatasetPtr m_dataset;
};

}  // namespace convscope::ui
