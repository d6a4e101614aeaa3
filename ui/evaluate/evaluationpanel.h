#pragma once

#include "ui/engine/enginebridge.h"

#include <QWidget>

class QLabel;
class QListWidget;
class QPushButton;
class QTableWidget;

namespace convscope::ui {

/// The confusion matrix of the validation set as a heat map with per-class precision and
/// recall, and the images behind any cell or class (misclassified ones first).
class EvaluationPanel : public QWidget {
    Q_OBJECT
public:
    EvaluationPanel(EngineBridge* bridge, QWidget* parent = nullptr);

    void setSource(const QString& weightsPath, const QString& dataDir);
    void evaluate();
    /// Stops the running evaluation within a batch.
    void cancel();
    bool isRunning() const { return m_running; }
    QString summaryText() const;
    /// Lists the images whose true class is `truth` and predicted class `predicted`
    /// (any prediction when negative, misclassified first).
    void showCell(int truth, int predicted);
    void listImages(int truth, int predicted);

    QTableWidget* matrix() const { return m_matrix; }
    QListWidget* images() const { return m_images; }

Q_SIGNALS:
    void imageActivated(const QString& path);
    void evaluated(double accuracy);

private:
    void show(const convscope::Evaluation& e, const QStringList& classNames);
    void setRunning(bool running);

    EngineBridge* m_bridge;
    QString m_weights;
    QString m_dataDir;
    convscope::Evaluation m_evaluation;
    QStringList m_names;
    QPushButton* m_run;
    QLabel* m_summary;
    QTableWidget* m_matrix;
    QListWidget* m_images;
    int m_pending = 0;  ///< requests not answered yet
    bool m_running = false;
};

}  // namespace convscope::ui
