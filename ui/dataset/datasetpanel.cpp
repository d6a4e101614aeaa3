#include "ui/dataset/datasetpanel.h"

#include "ui/dataset/balancedelegate.h"
#include "ui/dataset/classlistmodel.h"
#include "ui/dataset/decodedcachebar.h"
#include "ui/dataset/flaggedfilesmodel.h"
#include "ui/dataset/thumbnaildelegate.h"
#include "ui/dataset/thumbnailmodel.h"

#include <QEvent>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QListView>
#include <QProgressBar>
#include <QPushButton>
#include <QScrollBar>
#include <QSplitter>
#include <QTabWidget>
#include <QTableView>
#include <QTimer>
#include <QToolButton>
#include <QVBoxLayout>

#include <algorithm>

namespace convscope::ui {

DatasetPanel::DatasetPanel(EngineBridge* bridge, QWidget* parent)
    : QWidget(parent),
      m_classModel(new ClassListModel(this)),
      m_thumbnailModel(new ThumbnailModel(this)),
      m_flaggedModel(new FlaggedFilesModel(this)) {
    m_thumbnailModel->setThumbnailSize(kThumbnailSizePx);

    m_header = new QLabel(this);
    m_header->setObjectName(QStringLiteral("datasetHeader"));
    m_header->setTextFormat(Qt::PlainText);
    m_header->setWordWrap(true);
    m_header->setTextInteractionFlags(Qt::TextSelectableByMouse);

    m_importRow = new QWidget(this);
    m_importProgress = new QProgressBar(m_importRow);
    m_importProgress->setObjectName(QStringLiteral("importProgress"));
    m_importProgress->setFormat(tr("Importing: %v of %m files"));
    m_cancelImport = new QPushButton(tr("Cancel"), m_importRow);
    m_cancelImport->setObjectName(QStringLiteral("cancelImport"));
    auto* importLayout = new QHBoxLayout(m_importRow);
    importLayout->setContentsMargins(0, 0, 0, 0);
    importLayout->addWidget(m_importProgress, 1);
    importLayout->addWidget(m_cancelImport);
    m_importRow->hide();
    connect(m_cancelImport, &QPushButton::clicked, this, [this] {
        m_cancelImport->setEnabled(false);
        Q_EMIT cancelImportRequested();
    });

    createThumbnailGrid();
    m_flaggedView = new QTableView(this);
    m_flaggedView->setObjectName(QStringLiteral("flaggedFiles"));
    m_flaggedView->setModel(m_flaggedModel);
    m_flaggedView->setAlternatingRowColors(true);
    m_flaggedView->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_flaggedView->verticalHeader()->hide();
    m_flaggedView->horizontalHeader()->setStretchLastSection(true);
    m_flaggedView->horizontalHeader()->resizeSection(FlaggedFilesModel::PathColumn, 320);

    m_tabs = new QTabWidget(this);
    m_tabs->addTab(m_grid, tr("Images"));
    m_tabs->addTab(m_flaggedView, QString());
    connect(m_tabs, &QTabWidget::currentChanged, this, &DatasetPanel::scheduleThumbnailRequests);

    // Classes above, images below: the panel lives in a narrow side dock.
    auto* splitter = new QSplitter(Qt::Vertical, this);
    splitter->addWidget(createClassPane());
    splitter->addWidget(m_tabs);
    splitter->setStretchFactor(1, 1);
    splitter->setSizes({260, 500});

    auto* layout = new QVBoxLayout(this);
    layout->addWidget(m_header);
    layout->addWidget(m_importRow);
    layout->addWidget(splitter, 1);
    layout->addWidget(new DecodedCacheBar(this));

    if (bridge) {
        connect(m_thumbnailModel, &ThumbnailModel::thumbnailRequested, bridge,
                &EngineBridge::requestThumbnail);
        connect(bridge, &EngineBridge::thumbnailReady, m_thumbnailModel,
                &ThumbnailModel::onThumbnailReady);
    }
    updateHeader();
}

QWidget* DatasetPanel::createClassPane() {
    auto* pane = new QWidget(this);
    m_showAllClasses = new QToolButton(pane);
    m_showAllClasses->setObjectName(QStringLiteral("showAllClasses"));
    m_showAllClasses->setText(tr("Show all"));
    m_showAllClasses->setEnabled(false);

    m_classView = new QTableView(pane);
    m_classView->setObjectName(QStringLiteral("classTable"));
    m_classView->setModel(m_classModel);
    m_classView->setItemDelegateForColumn(ClassListModel::BalanceColumn,
                                          new BalanceDelegate(m_classView));
    m_classView->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_classView->setSelectionMode(QAbstractItemView::SingleSelection);
    m_classView->setWordWrap(false);
    m_classView->verticalHeader()->hide();
    QHeaderView* header = m_classView->horizontalHeader();
    header->setSectionResizeMode(QHeaderView::ResizeToContents);
    header->setSectionResizeMode(ClassListModel::BalanceColumn, QHeaderView::Stretch);
    connect(m_classView->selectionModel(), &QItemSelectionModel::selectionChanged, this,
            &DatasetPanel::onClassSelectionChanged);
    connect(m_showAllClasses, &QToolButton::clicked, m_classView,
            &QAbstractItemView::clearSelection);

    auto* titleRow = new QHBoxLayout;
    titleRow->addWidget(new QLabel(tr("Classes"), pane), 1);
    titleRow->addWidget(m_showAllClasses);
    auto* layout = new QVBoxLayout(pane);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addLayout(titleRow);
    layout->addWidget(m_classView, 1);
    return pane;
}

void DatasetPanel::createThumbnailGrid() {
    m_grid = new QListView(this);
    m_grid->setObjectName(QStringLiteral("thumbnailGrid"));
    m_grid->setViewMode(QListView::IconMode);
    m_grid->setMovement(QListView::Static);
    m_grid->setResizeMode(QListView::Adjust);
    m_grid->setUniformItemSizes(true);
    m_grid->setWordWrap(false);
    m_grid->setTextElideMode(Qt::ElideMiddle);
    m_grid->setSpacing(4);
    m_grid->setIconSize(QSize(kThumbnailSizePx, kThumbnailSizePx));
    m_grid->setSelectionMode(QAbstractItemView::SingleSelection);
    m_grid->setItemDelegate(new ThumbnailDelegate(kThumbnailSizePx, m_grid));
    m_grid->setModel(m_thumbnailModel);
    m_grid->viewport()->installEventFilter(this);
    connect(m_grid, &QListView::clicked, this, [this](const QModelIndex& index) {
        Q_EMIT imageActivated(index.data(ThumbnailModel::PathRole).toString());
    });

    m_requestTimer = new QTimer(this);
    m_requestTimer->setSingleShot(true);
    m_requestTimer->setInterval(kRequestDebounceMs);
    connect(m_requestTimer, &QTimer::timeout, this, &DatasetPanel::requestVisibleThumbnails);
    QScrollBar* scrollBar = m_grid->verticalScrollBar();
    connect(scrollBar, &QScrollBar::valueChanged, this, &DatasetPanel::scheduleThumbnailRequests);
    connect(scrollBar, &QScrollBar::rangeChanged, this, &DatasetPanel::scheduleThumbnailRequests);
    connect(m_thumbnailModel, &QAbstractItemModel::modelReset, this,
            &DatasetPanel::scheduleThumbnailRequests);
}

void DatasetPanel::setDataset(DatasetPtr dataset) {
    m_dataset = std::move(dataset);
    m_classModel->setDataset(m_dataset);
    m_thumbnailModel->setDataset(m_dataset);
    m_flaggedModel->setDataset(m_dataset);
    m_showAllClasses->setEnabled(false);
    clearImportProgress();
    updateHeader();
}

void DatasetPanel::setImportProgress(int done, int total) {
    if (m_importRow->isHidden()) {
        m_cancelImport->setEnabled(true);
        m_importRow->show();
    }
    m_importProgress->setRange(0, std::max(total, 0));
    m_importProgress->setValue(std::clamp(done, 0, std::max(total, 0)));
}

void DatasetPanel::clearImportProgress() {
    m_importRow->hide();
    m_importProgress->reset();
}

void DatasetPanel::updateHeader() {
    m_tabs->setTabText(m_tabs->indexOf(m_flaggedView),
                       tr("Flagged files (%1)").arg(m_flaggedModel->skippedCount()));
    if (!m_dataset) {
        m_header->setText(tr("No dataset loaded."));
        return;
    }
    int train = 0;
    int validation = 0;
    for (const Sample& sample : m_dataset->samples()) {
        if (sample.usable)
            ++(sample.split == Split::Train ? train : validation);
    }
    const int total = train + validation;
    const int classes = m_classModel->rowCount();
    const auto percent = [total](int n) { return total > 0 ? qRound(100.0 * n / total) : 0; };
    const QString layout = m_dataset->layout() == DatasetLayout::ClassFolders
                               ? tr("class folders, validation drawn by seed")
                               : tr("train/ and validation/ folders");
    const QString images = total == 1 ? tr("1 image") : tr("%1 images").arg(total);
    const QString classCount = classes == 1 ? tr("1 class") : tr("%1 classes").arg(classes);
    const QString split = tr("train %1 (%2%) / validation %3 (%4%)")
                              .arg(train)
                              .arg(percent(train))
                              .arg(validation)
                              .arg(percent(validation));
    QStringList lines{QString::fromStdString(m_dataset->root()),
                      QStringList{layout, images, classCount, split}.join(QStringLiteral(" · "))};
    for (const std::string& warning : m_dataset->report().warnings)
        lines.append(tr("Warning: %1").arg(QString::fromStdString(warning)));
    m_header->setText(lines.join(QLatin1Char('\n')));
}

void DatasetPanel::onClassSelectionChanged() {
    const QModelIndexList rows = m_classView->selectionModel()->selectedRows();
    const int label = rows.isEmpty() ? -1 : rows.first().row();
    m_thumbnailModel->setClassFilter(label);
    m_showAllClasses->setEnabled(label >= 0);
}

bool DatasetPanel::eventFilter(QObject* watched, QEvent* event) {
    if (watched == m_grid->viewport() &&
        (event->type() == QEvent::Resize || event->type() == QEvent::Show)) {
        scheduleThumbnailRequests();
    }
    return QWidget::eventFilter(watched, event);
}

void DatasetPanel::scheduleThumbnailRequests() {
    m_requestTimer->start();
}

void DatasetPanel::requestVisibleThumbnails() {
    const int rows = m_thumbnailModel->rowCount();
    if (rows == 0 || !m_grid->isVisible())
        return;
    // Half a screen above and below is fetched ahead, so short scrolls find thumbnails ready.
    const QRect viewport = m_grid->viewport()->rect();
    const QRect wanted = viewport.adjusted(0, -viewport.height() / 2, 0, viewport.height() / 2);
    const auto rectOf = [this](int row) {
        return m_grid->visualRect(m_thumbnailModel->index(row));
    };
    // Rows are laid out in order, top to bottom: bisect for the first one that reaches the
    // wanted band, then walk to the last, so the cost follows the screen, not the dataset.
    int first = 0;
    int end = rows;
    while (first < end) {
        const int mid = first + (end - first) / 2;
        if (rectOf(mid).bottom() < wanted.top())
            first = mid + 1;
        else
            end = mid;
    }
    int last = first;
    while (last + 1 < rows && rectOf(last + 1).top() <= wanted.bottom())
        ++last;
    if (first < rows)
        m_thumbnailModel->requestThumbnails(first, last);
}

}  // namespace convscope::ui
