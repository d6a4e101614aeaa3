#include "ui/evaluate/evaluationpanel.h"

#include "ui/evaluate/confusiontable.h"

#include <QFileInfo>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QListWidget>
#include <QPushButton>
#include <QSplitter>
#include <QTableWidget>
#include <QVBoxLayout>

#include <algorithm>

namespace convscope::ui {

EvaluationPanel::EvaluationPanel(EngineBridge* bridge, QWidget* parent)
    : QWidget(parent),
      m_bridge(bridge),
      m_run(new QPushButton(tr("Evaluate on the validation set"))),
      m_summary(new QLabel),
      m_matrix(new QTableWidget),
      m_images(new QListWidget) {
    m_matrix->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_matrix->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    m_matrix->setToolTip(
        tr("Rows: true class. Columns: predicted class. Click a cell to see its images."));
    m_matrix->verticalHeader()->setDefaultSectionSize(22);
    m_images->setToolTip(tr("Click an image to classify it"));

    auto* left = new QVBoxLayout;
    left->addWidget(m_run);
    left->addWidget(m_summary);
    left->addWidget(m_matrix, 1);
    auto* layout = new QHBoxLayout(this);
    layout->addLayout(left, 3);
    layout->addWidget(m_images, 2);

    connect(m_run, &QPushButton::clicked, this, [this] {
        if (m_running)
            cancel();
        else
            evaluate();
    });
    connect(m_bridge, &EngineBridge::evaluated, this, &EvaluationPanel::show);
    connect(m_bridge, &EngineBridge::failed, this, [this](const QString& what) {
        if (what != QLatin1String("Evaluate") || m_pending == 0)
            return;
        setRunning(--m_pending > 0);
        m_summary->setText(tr("Evaluation failed (see Issues)."));
    });
    connect(m_matrix, &QTableWidget::cellClicked, this, &EvaluationPanel::showCell);
    connect(m_matrix->verticalHeader(), &QHeaderView::sectionClicked, this,
            [this](int truth) { listImages(truth, -1); });
    connect(m_images, &QListWidget::itemClicked, this, [this](QListWidgetItem* item) {
        Q_EMIT imageActivated(item->data(Qt::UserRole).toString());
    });
}

void EvaluationPanel::setSource(const QString& weightsPath, const QString& dataDir) {
    m_weights = weightsPath;
    m_dataDir = dataDir;
    m_run->setEnabled(!m_weights.isEmpty() && !m_dataDir.isEmpty());
}

void EvaluationPanel::evaluate() {
    if (m_weights.isEmpty() || m_dataDir.isEmpty()) {
        m_summary->setText(tr("Needs a dataset and a trained model."));
        return;
    }
    m_summary->setText(tr("Evaluating…"));
    m_bridge->evaluate(m_weights, m_dataDir, 0.2, 1337);
    ++m_pending;
    setRunning(true);
}

QString EvaluationPanel::summaryText() const {
    return m_summary->text();
}

void EvaluationPanel::cancel() {
    m_bridge->cancelEvaluation();
    m_summary->setText(tr("Cancelling the evaluation…"));
}

void EvaluationPanel::setRunning(bool running) {
    m_running = running;
    m_run->setText(running ? tr("Cancel the evaluation") : tr("Evaluate on the validation set"));
}

void EvaluationPanel::show(const Evaluation& e, const QStringList& names) {
    // Every request answers once; a superseded one answers cancelled.
    m_pending = std::max(0, m_pending - 1);
    if (e.cancelled) {
        if (m_pending == 0) {
            setRunning(false);
            m_summary->setText(tr("Evaluation cancelled."));
        }
        return;
    }
    setRunning(m_pending > 0);
    m_evaluation = e;
    m_names = names;
    m_summary->setText(tr("%1 images, accuracy %2").arg(e.samples).arg(e.accuracy(), 0, 'f', 4));
    showConfusion(m_matrix, e, names);
    Q_EMIT evaluated(e.accuracy());
}

void EvaluationPanel::showCell(int truth, int predicted) {
    const int n = m_names.size();
    if (truth < n && predicted < n)
        listImages(truth, predicted);  // not the precision/recall cells
}

void EvaluationPanel::listImages(int truth, int predicted) {
    m_images->clear();
    const Evaluation& e = m_evaluation;
    std::vector<std::size_t> rows;
    for (std::size_t i = 0; i < e.predictions.size() && i < e.samplePaths.size(); ++i) {
        if (e.truths[i] == truth && (predicted < 0 || e.predictions[i] == predicted))
            rows.push_back(i);
    }
    // Misclassified first: those are the ones worth a look.
    std::stable_sort(rows.begin(), rows.end(), [&](std::size_t a, std::size_t b) {
        return (e.predictions[a] != e.truths[a]) > (e.predictions[b] != e.truths[b]);
    });
    for (std::size_t i : rows) {
        const QString path = QString::fromStdString(e.samplePaths[i]);
        const bool wrong = e.predictions[i] != e.truths[i];
        auto* item = new QListWidgetItem(
            QFileInfo(path).fileName() +
            (wrong ? tr("  → %1").arg(m_names.value(e.predictions[i])) : QString()));
        item->setData(Qt::UserRole, path);
        item->setToolTip(path);
        if (wrong)
            item->setForeground(QColor(180, 0, 0));
        m_images->addItem(item);
    }
}

}  // namespace convscope::ui
