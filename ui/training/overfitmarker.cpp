#include "ui/training/overfitmarker.h"

#include <QCoreApplication>

#include "ui/training/qcustomplotinclude.h"

namespace convscope::ui {

namespace {
const QColor kWarning(214, 39, 40);
}  // namespace

OverfitMarker::OverfitMarker(QCustomPlot* plot)
    : m_plot(plot),
      m_band(new QCPItemRect(plot)),
      m_start(new QCPItemStraightLine(plot)),
      m_label(new QCPItemText(plot)) {
    // x in epochs, y as a fraction of the chart's height: the band spans the chart however
    // the axes are rescaled.
    for (QCPItemPosition* p : {m_band->topLeft, m_band->bottomRight, m_label->position}) {
        p->setTypeX(QCPItemPosition::ptPlotCoords);
        p->setTypeY(QCPItemPosition::ptAxisRectRatio);
    }
    for (QCPItemPosition* p : {m_start->point1, m_start->point2}) {
        p->setTypeX(QCPItemPosition::ptPlotCoords);
        p->setTypeY(QCPItemPosition::ptAxisRectRatio);
    }
    m_band->setPen(Qt::NoPen);
    QColor fill = kWarning;
    fill.setAlpha(38);
    m_band->setBrush(fill);
    m_band->setLayer(QStringLiteral("grid"));  // under the curves, over the grid lines
    QPen dashed(kWarning);
    dashed.setStyle(Qt::DashLine);
    dashed.setWidthF(1.5);
    m_start->setPen(dashed);
    m_label->setPositionAlignment(Qt::AlignLeft | Qt::AlignTop);
    m_label->setColor(kWarning.darker(130));
    m_label->setFont(QFont(plot->font().family(), 9, QFont::Bold));
    m_label->setBrush(QColor(255, 255, 255, 210));
    m_label->setPadding(QMargins(4, 2, 4, 2));
    hide();
}

void OverfitMarker::show(const OverfitWarning& warning) {
    if (!warning.found) {
        hide();
        return;
    }
    m_band->topLeft->setCoords(warning.sinceEpoch, 0);
    m_band->bottomRight->setCoords(warning.lastEpoch, 1);
    m_start->point1->setCoords(warning.sinceEpoch, 0);
    m_start->point2->setCoords(warning.sinceEpoch, 1);
    m_label->position->setCoords(warning.sinceEpoch, 0.03);
    m_label->setText(
        QCoreApplication::translate("OverfitMarker", "overfitting? the gap grows from epoch %1")
            .arg(warning.sinceEpoch));
    for (QCPAbstractItem* item :
         {static_cast<QCPAbstractItem*>(m_band), static_cast<QCPAbstractItem*>(m_start),
          static_cast<QCPAbstractItem*>(m_label)})
        item->setVisible(true);
}

void OverfitMarker::hide() {
    m_band->setVisible(false);
    m_start->setVisible(false);
    m_label->setVisible(false);
}

bool OverfitMarker::isShown() const {
    return m_band->visible();
}

double OverfitMarker::fromEpoch() const {
    return m_band->topLeft->coords().x();
}

double OverfitMarker::toEpoch() const {
    return m_band->bottomRight->coords().x();
}

}  // namespace convscope::ui
