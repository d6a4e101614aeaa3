#pragma once

#include "train/evaluation.h"

#include <QStringList>

class QTableWidget;

namespace convscope::ui {

/// Shows a confusion matrix in `table` as a heat map (white to blue on the diagonal, white to
/// red off it, by the share of the true class's row), with recall as a last column (per true
/// class) and precision as a last row (per predicted class). Used by the Evaluate dock and
/// by the comparison of runs. `compact`: the predicted classes' columns are headed by their
/// numbers (the rows say "3  dress"; a column's tooltip names it), so that several matrices
/// of ten classes fit side by side.
void showConfusion(QTableWidget* table, const convscope::Evaluation& e, const QStringList& names,
                   bool compact = false);

}  // namespace convscope::ui
