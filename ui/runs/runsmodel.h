#pragma once

#include "train/runcatalog.h"

#include <QAbstractTableModel>

#include <vector>

namespace convscope::ui {

/// The runs of a workspace as a table: name, status, start, duration, architecture, epochs,
/// best and final validation accuracy, device, the process and host training it (or that last
/// did) and data folder. Sorting uses Qt::UserRole
/// (numbers and times as numbers, so 9 sorts before 10).
class RunsModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column {
        Name,
        Status,
        Started,
        Duration,
        Architecture,
        Epochs,
        BestAccuracy,
        FinalAccuracy,
        Device,
        TrainedBy,
        Data,
        ColumnCount
    };

    using QAbstractTableModel::QAbstractTableModel;

    void setRuns(std::vector<convscope::RunSummary> runs);
    const convscope::RunSummary& run(int row) const { return m_runs.at(std::size_t(row)); }
    const std::vector<convscope::RunSummary>& runs() const { return m_runs; }

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation,
                        int role = Qt::DisplayRole) const override;

private:
    std::vector<convscope::RunSummary> m_runs;
};

}  // namespace convscope::ui
