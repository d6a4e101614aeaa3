#include "ui/training/trainingplots.h"

#include "ui/training/overfitmarker.h"

#include <QFileInfo>
#include <QLabel>
#include <QToolTip>
#include <QVBoxLayout>

#include "ui/training/qcustomplotinclude.h"

namespace convscope::ui {

namespace {

QCPGraph* addGraph(QCustomPlot* plot, const QString& name, const QColor& colour, bool dots,
                   Qt::PenStyle style) {
    QCPGraph* g = plot->addGraph();
    g->setName(name);
    QPen pen(colour);
    pen.setWidthF(dots ? 2.0 : 1.2);
    pen.setStyle(style);
    g->setPen(pen);
    if (dots)
        g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, 6));
    return g;
}

QCustomPlot* makePlot(const QString& yLabel) {
    auto* plot = new QCustomPlot;
    plot->xAxis->setLabel(QStringLiteral("epoch"));
    plot->yAxis->setLabel(yLabel);
    plot->legend->setVisible(true);
    plot->legend->setFont(QFont(plot->font().family(), 8));
    plot->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    plot->setMinimumHeight(160);
    return plot;
}

}  // namespace

TrainingPlots::TrainingPlots(QWidget* parent)
    : QWidget(parent),
      m_loss(makePlot(tr("loss"))),
      m_accuracy(makePlot(tr("accuracy"))),
      m_overfitNote(new QLabel) {
    const QColor train(31, 119, 180), validation(255, 127, 14), batch(150, 180, 210);
    m_batchLoss = addGraph(m_loss, tr("train (per batch, smoothed)"), batch, false, Qt::SolidLine);
    m_trainLoss = addGraph(m_loss, tr("train (epoch)"), train, true, Qt::SolidLine);
    m_validationLoss = addGraph(m_loss, tr("validation (epoch)"), validation, true, Qt::SolidLine);
    m_batchAccuracy =
        addGraph(m_accuracy, tr("train (per batch, smoothed)"), batch, false, Qt::SolidLine);
    m_trainAccuracy = addGraph(m_accuracy, tr("train (epoch)"), train, true, Qt::SolidLine);
    m_validationAccuracy =
        addGraph(m_accuracy, tr("validation (epoch)"), validation, true, Qt::SolidLine);
    m_accuracy->legend->setVisible(false);
    m_accuracy->yAxis->setRange(0, 1);
    m_lossMarker = std::make_unique<OverfitMarker>(m_loss);
    m_accuracyMarker = std::make_unique<OverfitMarker>(m_accuracy);
    m_overfitNote->setObjectName(QStringLiteral("overfitNote"));
    m_overfitNote->setWordWrap(true);
    m_overfitNote->setStyleSheet(
        QStringLiteral("color: #8c1c1c; background: #fbe9e9; padding: 4px; border-radius: 3px"));
    m_overfitNote->setSizePolicy(QSizePolicy::Preferred, QSizePolicy::Maximum);
    m_overfitNote->setVisible(false);

    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_overfitNote);
    layout->addWidget(m_loss, 1);
    layout->addWidget(m_accuracy, 1);

    m_replot.setSingleShot(true);
    m_replot.setInterval(40);
    connect(&m_replot, &QTimer::timeout, this, [this] {
        for (QCustomPlot* p : {m_loss, m_accuracy}) {
            p->rescaleAxes();
            p->replot(QCustomPlot::rpQueuedReplot);
        }
        m_accuracy->yAxis->setRange(0, 1.02);
    });
    for (QCustomPlot* p : {m_loss, m_accuracy})
        connect(p, &QCustomPlot::mouseMove, this,
                [this, p](QMouseEvent* e) { showValueAt(p, e->pos()); });
}

TrainingPlots::~TrainingPlots() = default;

void TrainingPlots::clear() {
    for (QCustomPlot* p : {m_loss, m_accuracy})
        for (int i = 0; i < p->graphCount(); ++i)
            p->graph(i)->data()->clear();
    m_smoothLoss = m_smoothAccuracy = -1;
    m_epochs.clear();
    checkOverfitting();
    scheduleReplot();
}

void TrainingPlots::addBatch(const BatchEnd& e) {
    // Exponential smoothing, as TensorBoard does, so that the per-batch curve is readable.
    const double k = 0.9;
    m_smoothLoss = m_smoothLoss < 0 ? e.loss : k * m_smoothLoss + (1 - k) * e.loss;
    m_smoothAccuracy =
        m_smoothAccuracy < 0 ? e.accuracy : k * m_smoothAccuracy + (1 - k) * e.accuracy;
    const double x =
        e.epoch - 1 + double(e.batch) / double(std::max<std::int64_t>(1, e.batchesPerEpoch));
    m_batchLoss->addData(x, m_smoothLoss);
    m_batchAccuracy->addData(x, m_smoothAccuracy);
    scheduleReplot();
}

void TrainingPlots::addEpoch(const EpochEnd& e) {
    m_trainLoss->addData(e.epoch, e.trainLoss);
    m_validationLoss->addData(e.epoch, e.validationLoss);
    m_trainAccuracy->addData(e.epoch, e.trainAccuracy);
    m_validationAccuracy->addData(e.epoch, e.validationAccuracy);
    m_epochs.push_back(e);
    checkOverfitting();
    scheduleReplot();
}

void TrainingPlots::checkOverfitting() {
    const OverfitWarning accuracy = OverfitDetector::detect(m_epochs, GapMetric::Accuracy);
    const OverfitWarning loss = OverfitDetector::detect(m_epochs, GapMetric::Loss);
    const QString before = m_overfitNote->text();
    m_accuracyWarning = accuracy;
    m_lossWarning = loss;
    m_accuracyMarker->show(accuracy);
    m_lossMarker->show(loss);
    const QString text = OverfitDetector::describe(accuracy, loss);
    m_overfitNote->setText(text);
    m_overfitNote->setVisible(!text.isEmpty());
    if (!text.isEmpty() && text != before)
        Q_EMIT overfittingWarned(text);
}

int TrainingPlots::batchPointCount() const {
    return m_batchLoss->dataCount();
}
int TrainingPlots::epochPointCount() const {
    return m_validationAccuracy->dataCount();
}

void TrainingPlots::scheduleReplot() {
    if (!m_replot.isActive())
        m_replot.start();
}

void TrainingPlots::showValueAt(QCustomPlot* plot, const QPoint& pos) {
    const double x = plot->xAxis->pixelToCoord(pos.x());
    QString text;
    for (int i = 0; i < plot->graphCount(); ++i) {
        QCPGraph* g = plot->graph(i);
        if (g->dataCount() == 0)
            continue;
        auto it = g->data()->findBegin(x);
        if (it == g->data()->constEnd())
            continue;
        text += QStringLiteral("%1: %2 at %3\n")
                    .arg(g->name())
                    .arg(it->value, 0, 'f', 4)
                    .arg(it->key, 0, 'f', 2);
    }
    QToolTip::showText(plot->mapToGlobal(pos), text.trimmed(), plot);
}

bool TrainingPlots::exportTo(const QString& path) {
    const bool pdf =
        QFileInfo(path).suffix().compare(QStringLiteral("pdf"), Qt::CaseInsensitive) == 0;
    QPixmap sheet(qMax(m_loss->width(), 640), qMax(m_loss->height() + m_accuracy->height(), 480));
    if (pdf) {
        // One chart per file would lose the pairing; a PDF of the loss chart with the accuracy
        // chart below keeps both as vectors.
        const QString accuracyPath = path.left(path.size() - 4) + QStringLiteral("-accuracy.pdf");
        return m_loss->savePdf(path) && m_accuracy->savePdf(accuracyPath);
    }
    sheet.fill(Qt::white);
    QCPPainter painter(&sheet);
    const QPixmap loss = m_loss->toPixmap(sheet.width(), sheet.height() / 2);
    const QPixmap accuracy = m_accuracy->toPixmap(sheet.width(), sheet.height() / 2);
    painter.drawPixmap(0, 0, loss);
    painter.drawPixmap(0, sheet.height() / 2, accuracy);
    painter.end();
    return sheet.save(path);
}

}  // namespace convscope::ui
