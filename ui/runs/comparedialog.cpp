#include "ui/runs/comparedialog.h"

#include "ui/evaluate/confusiontable.h"
#include "ui/training/qcustomplotinclude.h"

#include <QHeaderView>
#include <QHBoxLayout>
#include <QLabel>
#include <QScrollArea>
#include <QSplitter>
#include <QTabWidget>
#include <QTableWidget>
#include <QVBoxLayout>

namespace convscope::ui {

namespace {

/// Colours that stay apart for up to eight runs (then they repeat).
QColor runColour(int i) {
    static const QColor colours[] = {{0x1f, 0x77, 0xb4}, {0xff, 0x7f, 0x0e}, {0x2c, 0xa0, 0x2c},
                                     {0xd6, 0x27, 0x28}, {0x94, 0x67, 0xbd}, {0x8c, 0x56, 0x4b},
                                     {0xe3, 0x77, 0xc2}, {0x7f, 0x7f, 0x7f}};
    return colours[i % 8];
}

QCustomPlot* makePlot(const QString& valueLabel) {
    auto* plot = new QCustomPlot;
    plot->xAxis->setLabel(QObject::tr("epoch"));
    plot->yAxis->setLabel(valueLabel);
    plot->legend->setVisible(true);
    plot->legend->setFont(QFont(plot->font().family(), 8));
    plot->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    // Epochs are whole numbers: ticks on them, more than one apart when there are many.
    QSharedPointer<QCPAxisTickerFixed> epochs(new QCPAxisTickerFixed);
    epochs->setTickStep(1);
    epochs->setScaleStrategy(QCPAxisTickerFixed::ssMultiples);
    plot->xAxis->setTicker(epochs);
    plot->setMinimumHeight(180);
    return plot;
}

}  // namespace

CompareDialog::CompareDialog(const RunComparison& c, QWidget* parent)
    : QDialog(parent),
      m_accuracy(makePlot(tr("validation accuracy"))),
      m_loss(makePlot(tr("validation loss"))),
      m_settings(new QTableWidget),
      m_tabs(new QTabWidget) {
    setWindowTitle(tr("Compare %1 runs").arg(c.names.size()));
    m_runDirs = c.runDirs;
    m_tabs->addTab(makeCurvesTab(c), tr("Curves and settings"));
    m_tabs->addTab(makeConfusionTab(c), tr("Confusion matrices"));
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(m_tabs);
    refresh(c);
    resize(900, 760);
}

void CompareDialog::showTab(int tab) {
    m_tabs->setCurrentIndex(tab);
}

QWidget* CompareDialog::makeCurvesTab(const RunComparison& c) {
    for (int r = 0; r < c.names.size(); ++r) {
        for (QCustomPlot* plot : {m_accuracy, m_loss}) {
            QCPGraph* g = plot->addGraph();
            g->setName(c.names[r]);
            g->setPen(QPen(runColour(r), 2));
            g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, 5));
        }
    }
    // Accuracy rises and loss falls: each legend goes where its curves are not.
    m_accuracy->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignBottom | Qt::AlignRight);

    m_settings->setRowCount(int(c.differences.size()));
    m_settings->setColumnCount(c.names.size());
    m_settings->setHorizontalHeaderLabels(c.names);
    QStringList keys;
    for (int row = 0; row < int(c.differences.size()); ++row) {
        const SettingDifference& d = c.differences[std::size_t(row)];
        keys << QString::fromStdString(d.key);
        for (int col = 0; col < int(d.values.size()); ++col) {
            auto* item = new QTableWidgetItem(QString::fromStdString(d.values[std::size_t(col)]));
            item->setFlags(item->flags() & ~Qt::ItemIsEditable);
            item->setForeground(QBrush(runColour(col)));
            m_settings->setItem(row, col, item);
        }
    }
    m_settings->setVerticalHeaderLabels(keys);
    m_settings->horizontalHeader()->setSectionResizeMode(QHeaderView::Stretch);
    m_settings->verticalHeader()->setDefaultSectionSize(20);

    auto* split = new QSplitter(Qt::Vertical);
    split->addWidget(m_accuracy);
    split->addWidget(m_loss);
    auto* table = new QWidget;
    auto* tableLayout = new QVBoxLayout(table);
    tableLayout->setContentsMargins(0, 0, 0, 0);
    tableLayout->addWidget(new QLabel(c.differences.empty() ? tr("The runs have the same settings.")
                                                            : tr("Settings that differ:")));
    tableLayout->addWidget(m_settings);
    split->addWidget(table);
    split->setSizes({300, 300, 60 + 22 * int(c.differences.size())});
    return split;
}

QWidget* CompareDialog::makeConfusionTab(const RunComparison& c) {
    auto* row = new QWidget;
    auto* columns = new QHBoxLayout(row);
    for (int r = 0; r < c.names.size(); ++r) {
        auto* caption = new QLabel;
        caption->setWordWrap(true);
        auto* table = new QTableWidget;
        table->setEditTriggers(QAbstractItemView::NoEditTriggers);
        table->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
        table->horizontalHeader()->setMinimumSectionSize(24);
        table->verticalHeader()->setDefaultSectionSize(20);
        // Each matrix shows whole (sized once filled); the row of them scrolls when they do
        // not fit.
        table->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
        table->setVerticalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
        auto* column = new QVBoxLayout;
        auto* name = new QLabel(QStringLiteral("<b>%1</b>").arg(c.names[r].toHtmlEscaped()));
        QPalette palette = name->palette();
        palette.setColor(QPalette::WindowText, runColour(r));
        name->setPalette(palette);
        column->addWidget(name);
        column->addWidget(caption);
        column->addWidget(table);
        column->addStretch(1);
        columns->addLayout(column);
        m_confusions << table;
        m_captions << caption;
    }
    auto* scroll = new QScrollArea;
    scroll->setWidgetResizable(true);
    scroll->setWidget(row);
    return scroll;
}

void CompareDialog::refreshConfusions(const RunComparison& c) {
    for (int r = 0; r < m_confusions.size() && r < int(c.confusions.size()); ++r) {
        const std::optional<ConfusionRecord>& record = c.confusions[std::size_t(r)];
        m_confusions[r]->setVisible(record.has_value());
        if (!record) {
            m_captions[r]->setText(c.confusionNotes.value(r));
            continue;
        }
        Evaluation e;
        e.confusion = record->matrix;
        QStringList names;
        for (const std::string& n : record->classes)
            names << QString::fromStdString(n);
        QTableWidget* table = m_confusions[r];
        showConfusion(table, e, names, true);
        table->resizeColumnsToContents();
        int width = table->verticalHeader()->sizeHint().width() + 2 * table->frameWidth();
        for (int column = 0; column < table->columnCount(); ++column)
            width += table->columnWidth(column);
        int height = table->horizontalHeader()->sizeHint().height() + 2 * table->frameWidth();
        for (int row = 0; row < table->rowCount(); ++row)
            height += table->rowHeight(row);
        table->setFixedSize(width, height);
        m_captions[r]->setText(tr("Validation after epoch %1: accuracy %2")
                                   .arg(record->epoch)
                                   .arg(e.accuracy(), 0, 'f', 4));
    }
}

void CompareDialog::refresh(const RunComparison& c) {
    refreshConfusions(c);
    for (int r = 0; r < c.names.size() && r < m_accuracy->graphCount(); ++r) {
        QVector<double> epochs, accuracy, loss;
        for (const RunEpoch& e : c.histories.at(std::size_t(r))) {
            epochs << e.epoch;
            accuracy << e.validationAccuracy;
            loss << e.validationLoss;
        }
        m_accuracy->graph(r)->setData(epochs, accuracy, true);
        m_loss->graph(r)->setData(epochs, loss, true);
    }
    for (QCustomPlot* plot : {m_accuracy, m_loss}) {
        plot->rescaleAxes();
        plot->xAxis->scaleRange(1.05, plot->xAxis->range().center());
        plot->replot();
    }
}

}  // namespace convscope::ui
