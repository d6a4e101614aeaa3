#pragma once

#include "train/trainingobserver.h"

#include <QTimer>
#include <QWidget>

class QCustomPlot;
class QCPGraph;

namespace convscope::ui {

/// Live loss and accuracy charts: per batch (smoothed) and per epoch, training against
/// validation. Points are appended as they come; redraws are batched on a 40 ms timer.
class TrainingPlots : public QWidget {
    Q_OBJECT
public:
    explicit TrainingPlots(QWidget* parent = nullptr);

    void clear();
    void addBatch(const convscope::BatchEnd& e);
    void addEpoch(const convscope::EpochEnd& e);

    /// Writes both charts, one above the other; PNG or PDF by the extension.
    bool exportTo(const QString& path);

    int batchPointCount() const;
    int epochPointCount() const;
    QCustomPlot* lossPlot() const { return m_loss; }
    QCustomPlot* accuracyPlot() const { return m_accuracy; }

private:
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
    QTimer m_replot;
    double m_smoothLoss = -1;
    double m_smoothAccuracy = -1;
};

}  // namespace convscope::ui
