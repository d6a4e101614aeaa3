#pragma once

#include "ui/training/overfitdetector.h"

class QCustomPlot;
class QCPItemRect;
class QCPItemStraightLine;
class QCPItemText;

namespace convscope::ui {

/// The overfitting warning drawn on one chart: a shaded band over the epochs where the gap
/// grew, a dashed line where it started and a short label. The items belong to the plot.
class OverfitMarker {
public:
    explicit OverfitMarker(QCustomPlot* plot);

    /// Shows `warning` (hides the marker when nothing was found); the caller replots.
    void show(const OverfitWarning& warning);
    void hide();
    bool isShown() const;
    /// The band's first and last epoch (plot x coordinates).
    double fromEpoch() const;
    double toEpoch() const;
    QCPItemText* label() const { return m_label; }

private:
    QCustomPlot* m_plot;
    QCPItemRect* m_band;
    QCPItemStraightLine* m_start;
    QCPItemText* m_label;
};

}  // namespace convscope::ui
