#pragma once

#include "train/trainingobserver.h"
#include "ui/training/overfitdetector.h"

#include <QTimer>
#include <QWidget>

#include <memory>
#include <vector>

class QCustomPlot;
class QCPGraph;
class QLabel;

namespace convscope::ui {

class OverfitMarker;

/// Live loss and accuracy charts: per batch (smoothed) and per epoch, training against
/// validation. Points are appended as they come; redraws are batched on a 40 ms timer. When
/// the gap between training and validation grows (OverfitDetector), the chart marks the epochs
/// and a line above the charts says it in words.
class TrainingPlots : public QWidget {
    Q_OBJECT
public:
    explicit TrainingPlots(QWidget* parent = nullptr);
    ~TrainingPlots() override;

    void clear();
    void addBatch(const convscope::BatchEnd& e);
    void addEpoch(const convscope::EpochEnd& e);

    /// Writes both charts, one above the other; PNG or PDF by the extension.
    bool exportTo(const QString& path);

    int batchPointCount() const;
    int epochPointCount() const;
    QCustomPlot* lossPlot() const { return m_loss; }
    QCustomPlot* accuracyPlot() const { return m_accuracy; }
    /// The overfitting warnings of the epochs so far, on the accuracy and the loss chart.
    const OverfitWarning& accuracyWarning() const { return m_accuracyWarning; }
    const OverfitWarning& lossWarning() const { return m_lossWarning; }
    OverfitMarker* accuracyMarker() const { return m_accuracyMarker.get(); }
    OverfitMarker* lossMarker() const { return m_lossMarker.get(); }
    /// The warning in words (hidden while there is none).
    QLabel* overfitNote() const { return m_overfitNote; }

Q_SIGNALS:
    /// The overfitting warning appeared or changed; `text` says it in words.
    void overfittingWarned(const QString& text);

private:
    void checkOverfitting();
    void scheduleReplot();
    void showValueAt(QCustomPlot* plot, const QPoint& pos);

    QCustomPlot* m_loss;
    QCustomPlot* m_accuracy;
    QCPGraph* m_batchLoss;
    QCPGraph* m_batchAccuracy;
    QCPGraph* m_trainLoss;
    QCPGraph* m_validationLoss;
    QCPGraph* m_trainAccuracy;
    QCPGraph* m_validationAccuracy;
    QLabel* m_overfitNote;
    std::unique_ptr<OverfitMarker> m_lossMarker;
    std::unique_ptr<OverfitMarker> m_accuracyMarker;
    std::vector<convscope::EpochEnd> m_epochs;
    OverfitWarning m_accuracyWarning;
    OverfitWarning m_lossWarning;
    QTimer m_replot;
    double m_smoothLoss = -1;
    double m_smoothAccuracy = -1;
};

}  // namespace convscope::ui
