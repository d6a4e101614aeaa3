#pragma once

#include "train/trainconfig.h"
#include "train/trainingobserver.h"

#include <QWidget>

class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QProgressBar;
class QPushButton;
class QSpinBox;

namespace convscope::ui {

class EngineBridge;
class TrainingPlots;

/// Training settings, Start / Pause / Resume / Cancel, progress and the live charts.
/// Talks to core only through the EngineBridge.
class TrainingPanel : public QWidget {
    Q_OBJECT
public:
    TrainingPanel(EngineBridge* bridge, QWidget* parent = nullptr);

    /// The dataset folder to train on and the augmentation to use (from the other panels).
    void setDataFolder(const QString& folder);
    void setAugmentation(const convscope::AugmentParams& params, bool enabled);

    convscope::TrainConfig config() const;
    /// Sets the form's image size, epochs and batch size (scripts, tests).
    void setBasicSettings(int imageSize, int epochs, int batchSize);
    void setArchitecture(convscope::Architecture architecture, convscope::Head head);
    void setRunDirectory(const QString& dir);
    QString runDirectory() const;
    /// The weights to classify with: the finished run's, else the last epoch's snapshot.
    QString currentWeights() const;

    void start();
    void resumeRun(const QString& runDir);
    void togglePause();
    void cancel();

    TrainingPlots* plots() const { return m_plots; }
    QLabel* statusLabel() const { return m_status; }

Q_SIGNALS:
    void weightsAvailable(const QString& path);
    void trainingStateChanged(bool running);

private:
    void onBatch(const convscope::BatchEnd& e);
    void onEpoch(const convscope::EpochEnd& e);
    void onFinished(const convscope::TrainingResult& r);
    void setRunning(bool running);

    EngineBridge* m_bridge;
    QString m_dataFolder;
    convscope::AugmentParams m_augmentation;
    bool m_augment = true;
    bool m_paused = false;
    int m_epochs = 0;

    QComboBox* m_architecture;
    QComboBox* m_head;
    QSpinBox* m_size;
    QSpinBox* m_epochCount;
    QSpinBox* m_batch;
    QComboBox* m_optimizer;
    QDoubleSpinBox* m_learningRate;
    QComboBox* m_device;
    QLineEdit* m_runDir;
    QPushButton* m_start;
    QPushButton* m_pause;
    QPushButton* m_cancel;
    QProgressBar* m_progress;
    QLabel* m_status;
    TrainingPlots* m_plots;
};

}  // namespace convscope::ui
