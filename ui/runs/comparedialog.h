#pragma once

#include "train/confusionrecord.h"
#include "train/runcatalog.h"

#include <QDialog>
#include <QStringList>

#include <optional>
#include <vector>

class QCustomPlot;
class QLabel;
class QTabWidget;
class QTableWidget;

namespace convscope::ui {

/// What comparing runs shows: their names, their histories, their latest confusion matrices
/// and the settings that differ. Read on the jobs thread (EngineBridge::compareRuns).
struct RunComparison {
    QStringList runDirs;
    QStringList names;
    std::vector<std::vector<convscope::RunEpoch>> histories;  ///< one per run
    /// One per run: its confusion.json, or nothing (then confusionNotes says why).
    std::vector<std::optional<convscope::ConfusionRecord>> confusions;
    QStringList confusionNotes;
    std::vector<convscope::SettingDifference> differences;
};

/// Two or more runs side by side: validation accuracy and loss per epoch overlaid, one
/// colour per run with a legend by run name, and a table of only the settings that differ;
/// on a second tab their confusion matrices side by side.
class CompareDialog : public QDialog {
    Q_OBJECT
public:
    explicit CompareDialog(const RunComparison& comparison, QWidget* parent = nullptr);

    /// The same runs read again (one of them trains on): the curves take the new epochs and
    /// the confusion matrices the latest.
    void refresh(const RunComparison& comparison);
    const QStringList& runDirs() const { return m_runDirs; }

    QCustomPlot* accuracyPlot() const { return m_accuracy; }
    QCustomPlot* lossPlot() const { return m_loss; }
    QTableWidget* settings() const { return m_settings; }
    /// Run `run`'s confusion matrix (hidden when it has none) and the line above it.
    QTableWidget* confusionTable(int run) const { return m_confusions.at(run); }
    QLabel* confusionCaption(int run) const { return m_captions.at(run); }
    /// Shows the tab of curves and settings (0) or of confusion matrices (1).
    void showTab(int tab);

private:
    QWidget* makeCurvesTab(const RunComparison& c);
    QWidget* makeConfusionTab(const RunComparison& c);
    void refreshConfusions(const RunComparison& c);

    QStringList m_runDirs;
    QCustomPlot* m_accuracy;
    QCustomPlot* m_loss;
    QTableWidget* m_settings;
    QList<QTableWidget*> m_confusions;
    QList<QLabel*> m_captions;
    QTabWidget* m_tabs;
};

}  // namespace convscope::ui

Q_DECLARE_METATYPE(convscope::ui::RunComparison)
