#pragma once

#include "ui/engine/enginebridge.h"

#include <QMainWindow>

class QListWidget;
class QMenu;
class QTabWidget;

namespace convscope::ui {

class AugmentPanel;
class ClassifyPanel;
class DatasetPanel;
class EvaluationPanel;
class HelpController;
class InspectPanel;
class RunsPanel;
class TrainingPanel;

/// The workbench: dataset browser, augmentation preview, training with live charts,
/// classification and evaluation, as docks around a centre with the training charts and the
/// inspector (filters, activation maximization, feature maps) as tabs. Drop a folder on it
/// to import, an image to classify.
class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    explicit MainWindow(QWidget* parent = nullptr);
    /// The About box's text: the version, LibTorch, the GPUs and the CPU.
    static QString aboutText();
    ~MainWindow() override;

    void openFolder(const QString& path);
    void loadWeights(const QString& path);
    bool saveWeights(const QString& path);
    /// Exports the weights used for classifying as an ONNX model on the jobs thread: the
    /// status bar says when it is written, a dialog when it fails.
    void exportOnnx(const QString& path);
    /// Adds a line to the issues dock (background warnings and errors).
    void addIssue(const QString& text);

    EngineBridge* bridge() const { return m_bridge; }
    DatasetPanel* datasetPanel() const { return m_dataset; }
    AugmentPanel* augmentPanel() const { return m_augment; }
    TrainingPanel* trainingPanel() const { return m_training; }
    ClassifyPanel* classifyPanel() const { return m_classify; }
    EvaluationPanel* evaluationPanel() const { return m_evaluation; }
    RunsPanel* runsPanel() const { return m_runs; }
    /// Classifies and inspects with a run folder's weights (weights.h5, else latest.h5).
    void openRun(const QString& runDir);
    InspectPanel* inspectPanel() const { return m_inspect; }
    /// Help > Glossary, "Show me", the glossary tooltips and the dataset hints.
    HelpController* help() const { return m_help; }
    /// Brings the Training (0) or Inspect (1) tab to the front.
    void showCentreTab(int index);
    QListWidget* issues() const { return m_issues; }

protected:
    void dragEnterEvent(QDragEnterEvent* event) override;
    void dropEvent(QDropEvent* event) override;
    void closeEvent(QCloseEvent* event) override;

private:
    void createMenus();
    void onImported(DatasetPtr dataset);
    void onImageActivated(const QString& path);
    void onFailed(const QString& what, const QString& message, Origin origin);
    void setWeights(const QString& path, Origin origin = Origin::User);
    void rememberFolder(const QString& path);
    void rebuildRecentMenu();

    EngineBridge* m_bridge;
    DatasetPanel* m_dataset;
    AugmentPanel* m_augment;
    TrainingPanel* m_training;
    ClassifyPanel* m_classify;
    EvaluationPanel* m_evaluation;
    InspectPanel* m_inspect;
    RunsPanel* m_runs;
    QTabWidget* m_centre;
    QListWidget* m_issues;
    QMenu* m_recent = nullptr;
    HelpController* m_help = nullptr;
    QString m_folder;
    /// A run opened from the Runs dock whose epochs are being read for the Training tab.
    QString m_followRequested;
};

/// ConvScope's icon at every size resources/ renders (16 to 512 px), from the compiled-in .qrc.
QIcon applicationIcon();

/// Runs the workbench (the whole GUI application); `folder` is imported at once if given.
int runWorkbench(int argc, char** argv, const QString& folder);

}  // namespace convscope::ui
