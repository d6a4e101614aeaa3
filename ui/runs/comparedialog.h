#pragma once

#include "train/runcatalog.h"

#include <QDialog>
#include <QStringList>

#include <vector>

class QCustomPlot;
class QTableWidget;

namespace convscope::ui {

/// What comparing runs shows: their names, their histories and the settings that differ.
/// Read on the jobs thread (EngineBridge::compareRuns).
struct RunComparison {
    QStringList runDirs;
    QStringList names;
    std::vector<std::vector<convscope::RunEpoch>> histories;  ///< one per run
    std::vector<convscope::SettingDifference> differences;
};

/// Two or more runs side by side: validation accuracy and loss per epoch overlaid, one
/// colour per run with a legend by run name, and a table of only the settings that differ.
class CompareDialog : public QDialog {
    Q_OBJECT
public:
    explicit CompareDialog(const RunComparison& comparison, QWidget* parent = nullptr);

    /// The same runs read again (one of them trains on): the curves take the new epochs.
    void refreshCurves(const RunComparison& comparison);
    const QStringList& runDirs() const { return m_runDirs; }

    QCustomPlot* accuracyPlot() const { return m_accuracy; }
    QCustomPlot* lossPlot() const { return m_loss; }
    QTableWidget* settings() const { return m_settings; }

private:
    QStringList m_runDirs;
    QCustomPlot* m_accuracy;
    QCustomPlot* m_loss;
    QTableWidget* m_settings;
};

}  // namespace convscope::ui

Q_DECLARE_METATYPE(convscope::ui::RunComparison)
