#pragma once

#include "ui/engine/enginebridge.h"

#include <QWidget>

class QLabel;
class QListView;
class QProgressBar;
class QPushButton;
class QTabWidget;
class QTableView;
class QTimer;
class QToolButton;

namespace convscope::ui {

class ClassListModel;
class FlaggedFilesModel;
class ThumbnailModel;

// The dataset side of the main window: a summary line, the classes with their balance, a
// grid of thumbnails (of the selected class, or of all), the files the import flagged, and
// the import's progress. Thumbnails are asked of the bridge only for rows near the viewport,
// after a short pause in scrolling; with a null bridge none are asked for.
class DatasetPanel : public QWidget {
    Q_OBJECT
public:
    static constexpr int kThumbnailSizePx = 96;
    static constexpr int kRequestDebounceMs = 30;

    explicit DatasetPanel(EngineBridge* bridge, QWidget* parent = nullptr);

    void setDataset(DatasetPtr dataset);
    DatasetPtr dataset() const { return m_dataset; }

    ClassListModel* classModel() const { return m_classModel; }
    ThumbnailModel* thumbnailModel() const { return m_thumbnailModel; }
    FlaggedFilesModel* flaggedModel() const { return m_flaggedModel; }

public Q_SLOTS:
    // Shows the progress row; total 0 means "not known yet" (a busy bar).
    void setImportProgress(int done, int total);
    // Hides the progress row (setDataset does it too).
    void clearImportProgress();

Q_SIGNALS:
    // A thumbnail was clicked: the main window classifies it and previews augmentation.
    void imageActivated(const QString& path);
    void cancelImportRequested();

protected:
    bool eventFilter(QObject* watched, QEvent* event) override;

private:
    QWidget* createClassPane();
    void createThumbnailGrid();
    void updateHeader();
    void onClassSelectionChanged();
    void scheduleThumbnailRequests();
    void requestVisibleThumbnails();

    DatasetPtr m_dataset;
    ClassListModel* m_classModel;
    ThumbnailModel* m_thumbnailModel;
    FlaggedFilesModel* m_flaggedModel;

    QLabel* m_header = nullptr;
    QWidget* m_importRow = nullptr;
    QProgressBar* m_importProgress = nullptr;
    QPushButton* m_cancelImport = nullptr;
    QTableView* m_classView = nullptr;
    QToolButton* m_showAllClasses = nullptr;
    QTabWidget* m_tabs = nullptr;
    QListView* m_grid = nullptr;
    QTableView* m_flaggedView = nullptr;
    QTimer* m_requestTimer = nullptr;
};

}  // namespace convscope::ui
