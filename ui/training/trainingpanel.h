#pragma once

#include "train/finetuner.h"
#include "train/trainconfig.h"
#include "train/trainingobserver.h"
#include "ui/runs/followedrun.h"
#include "ui/training/devicepicker.h"

#include <QWidget>

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QProgressBar;
class QPushButton;
class QSpinBox;
class QTabWidget;

namespace convscope::ui {

class BatchHint;
class EngineBridge;
class LayerList;
class NetworkSurgery;
class TrainingPlots;
class TransferAdvice;

/// Training settings, Start / Pause / Resume / Cancel, progress and the live charts; for
/// transfer learning the starting weights, the layer list with what is frozen, bottleneck
/// features and the two-phase fine-tuning recipe. Talks to core only through the EngineBridge.
class TrainingPanel : public QWidget {
    Q_OBJECT
public:
    TrainingPanel(EngineBridge* bridge, QWidget* parent = nullptr);

    /// The dataset folder to train on and the augmentation to use (from the other panels).
    void setDataFolder(const QString& folder);
    /// The number of classes of the data (sizes the head in the layer list).
    void setClassCount(int classes);
    void setAugmentation(const convscope::AugmentParams& params, bool enabled);

    convscope::TrainConfig config() const;
    /// The two-phase recipe as the form sets it: phase 1 takes Epochs, phase 2 Fine-tune epochs.
    convscope::FineTuneConfig fineTuneConfig() const;
    /// Sets the form's image size, epochs and batch size (scripts, tests).
    void setBasicSettings(int imageSize, int epochs, int batchSize);
    void setArchitecture(convscope::Architecture architecture, convscope::Head head);
    void setRunDirectory(const QString& dir);
    /// Where new runs go (each in a new time-stamped folder): the Runs dock's workspace.
    void setWorkspace(const QString& folder) { m_workspace = folder; }
    /// Shows the epochs of a run trained elsewhere (another process, another machine) in the
    /// charts, and says who trains it; called again as it trains, the charts grow. Ignored
    /// while the window trains a run of its own. Returns whether it was shown. The status line
    /// is rewritten when the run's line changes, or always when `opened` (the user opened it).
    bool showRun(const convscope::ui::FollowedRun& run, bool opened = false);
    /// The run whose epochs showRun shows ("" when the charts are the window's own run).
    QString shownRun() const { return m_shownRun; }
    void setStartingWeights(const QString& path);
    void setBottleneck(bool on);
    bool bottleneck() const;
    void setFineTuneEpochs(int epochs);
    QString runDirectory() const;
    /// The weights to classify with: the finished run's, else the last epoch's snapshot.
    QString currentWeights() const;

    void start();
    /// Runs the two-phase fine-tuning recipe (phase 1: the head with the backbone frozen, by
    /// bottleneck features when ticked; phase 2: the last block and the head, SGD 1e-4).
    void startFineTune();
    /// The status line under the settings ("Epoch 2/10, batch …", "Stopped: …").
    QString statusText() const;
    /// `batchSize` > 0 resumes with that batch size (after running out of memory).
    void resumeRun(const QString& runDir, int batchSize = 0);
    /// The choices of the Device and Precision boxes ("auto", "cpu", "cuda:0"; "bf16"...).
    QString deviceChoice() const;
    QString precisionChoice() const;
    /// The Device box's entries in words (one per line).
    QStringList deviceEntries() const;
    /// "cuda:0 NVIDIA H200 (139.8 GiB) · bf16" while a run goes on and after it.
    QString runDeviceText() const;
    void togglePause();
    void cancel();

    TrainingPlots* plots() const { return m_plots; }
    LayerList* layers() const { return m_layers; }
    NetworkSurgery* surgery() const { return m_surgery; }
    QPushButton* fineTuneButton() const { return m_fineTune; }
    QPushButton* pauseButton() const { return m_pause; }
    QPushButton* cancelButton() const { return m_cancel; }
    /// The batch-size line under the settings, and the suggestion to fine-tune.
    BatchHint* batchHint() const { return m_batchHint; }
    TransferAdvice* transferAdvice() const { return m_advice; }
    /// Shows the layer list (true) or the charts.
    void showLayers(bool layers);
    QLabel* statusLabel() const { return m_status; }

Q_SIGNALS:
    void weightsAvailable(const QString& path);
    void trainingStateChanged(bool running);
    /// Bottleneck mode switched: augmentation cannot apply while it is on.
    void bottleneckChanged(bool on);

private:
    /// Ranges, defaults, tooltips and names of the settings.
    void configureControls();
    /// The settings grid above the buttons, the status line and the charts.
    void layOut();
    void connectSignals();
    void onOutOfMemory(const QString& runDir, const QString& message, int largestBatch);
    void onBatch(const convscope::BatchEnd& e);
    void onEpoch(const convscope::EpochEnd& e);
    void onFinished(const convscope::TrainingResult& r);
    void onStarted(int plannedEpochs);
    void onStartingWeightsDescribed(const QString& path, const convscope::ModelConfig& model);
    void onArchitectureChosen();
    void addBlock(const QString& layer);
    /// Makes the network a Keras one for surgery (a built-in network becomes its Keras form);
    /// false when it has none (said in a dialog).
    bool asKerasForm();
    void setRunning(bool running);
    bool prepareRunDirectory();
    convscope::ModelConfig modelConfig() const;
    void requestLayers();
    void onLayers(const convscope::ModelConfig& model,
                  const std::vector<convscope::LayerInfo>& layers);

    EngineBridge* m_bridge;
    QString m_dataFolder;
    convscope::AugmentParams m_augmentation;
    bool m_augment = true;
    bool m_paused = false;
    bool m_followedPaused = false;  ///< the shown run of another process waits (showRun)
    int m_epochs = 0;
    int m_classCount = 2;

    QComboBox* m_architecture;
    QString m_lastArchitecture = QStringLiteral("small");
    NetworkSurgery* m_surgery;
    QComboBox* m_head;
    QSpinBox* m_size;
    QSpinBox* m_epochCount;
    QSpinBox* m_batch;
    QComboBox* m_optimizer;
    QDoubleSpinBox* m_learningRate;
    DevicePicker m_devices;
    QLabel* m_runDevice;  ///< what the running (or last) run computes on, and in what precision
    QLineEdit* m_runDir;
    QString m_workspace;
    QString m_shownRun;
    QString m_shownRunLine;  ///< the status line showRun last made for it
    bool m_running = false;
    QLineEdit* m_startingWeights;
    QPushButton* m_browse;
    QCheckBox* m_bottleneck;
    QLabel* m_bottleneckNote;
    QSpinBox* m_fineTuneEpochs;
    QPushButton* m_fineTune;
    LayerList* m_layers;
    BatchHint* m_batchHint;
    TransferAdvice* m_advice;
    QTabWidget* m_tabs;
    QPushButton* m_start;
    QPushButton* m_pause;
    QPushButton* m_cancel;
    QProgressBar* m_progress;
    QLabel* m_status;
    TrainingPlots* m_plots;
};

}  // namespace convscope::ui
