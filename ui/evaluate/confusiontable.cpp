#include "ui/evaluate/confusiontable.h"

#include <QTableWidget>

namespace convscope::ui {

void showConfusion(QTableWidget* table, const Evaluation& e, const QStringList& names,
                   bool compact) {
    const int n = names.size();
    // The matrix with recall as an extra column (per true class) and precision as an extra
    // row (per predicted class).
    table->setRowCount(n + 1);
    table->setColumnCount(n + 1);
    if (compact) {
        QStringList rows, columns;
        for (int c = 0; c < n; ++c) {
            rows << QStringLiteral("%1  %2").arg(c).arg(names[c]);
            columns << QString::number(c);
        }
        table->setVerticalHeaderLabels(rows << QObject::tr("precision"));
        table->setHorizontalHeaderLabels(columns << QObject::tr("recall"));
        for (int c = 0; c < n; ++c)
            table->horizontalHeaderItem(c)->setToolTip(QObject::tr("predicted %1").arg(names[c]));
    } else {
        table->setVerticalHeaderLabels(QStringList(names) << QObject::tr("precision"));
        table->setHorizontalHeaderLabels(QStringList(names) << QObject::tr("recall"));
    }
    for (int t = 0; t < n; ++t) {
        std::int64_t rowTotal = 0;
        for (int p = 0; p < n; ++p)
            rowTotal += e.confusion[std::size_t(t)][std::size_t(p)];
        for (int p = 0; p < n; ++p) {
            const std::int64_t count = e.confusion[std::size_t(t)][std::size_t(p)];
            const double share = rowTotal ? double(count) / double(rowTotal) : 0.0;
            auto* item = new QTableWidgetItem(QString::number(count));
            item->setTextAlignment(Qt::AlignCenter);
            // Heat: white to blue on the diagonal, white to red off it.
            const int fade = int(255 * (1 - share));
            item->setBackground(t == p ? QColor(fade, fade, 255) : QColor(255, fade, fade));
            item->setForeground(share > 0.6 ? Qt::white : Qt::black);
            table->setItem(t, p, item);
        }
        auto* recall = new QTableWidgetItem(QString::number(e.recall(t), 'f', compact ? 2 : 3));
        recall->setTextAlignment(Qt::AlignCenter);
        table->setItem(t, n, recall);
    }
    for (int p = 0; p < n; ++p) {
        auto* precision =
            new QTableWidgetItem(QString::number(e.precision(p), 'f', compact ? 2 : 3));
        precision->setTextAlignment(Qt::AlignCenter);
        table->setItem(n, p, precision);
    }
    table->setItem(n, n, new QTableWidgetItem());
}

}  // namespace convscope::ui
