#pragma once

#include "train/evaluation.h"

#include <QStringList>

class QTableWidget;

namespace convscope::ui {

/// Shows a confusion matrix in `table` as a heat map (white to blue on the diagonal, white to
/// red off it, by the share of the true class's row), with recall as a last column (per true
/// class) and precision as a last row (per predicted class). Used by the Evaluate dock and
/// by the comparison of runs.
void showConfusion(QTableWidget* table, const convscope::Evaluation& e,
                   const QStringList& names);

}  // namespace convscope::ui
