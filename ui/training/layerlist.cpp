#include "ui/training/layerlist.h"

#include "util/text.h"

#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLocale>
#include <QPushButton>
#include <QSignalBlocker>
#include <QTreeWidget>
#include <QVBoxLayout>

namespace convscope::ui {

namespace {

enum Column { Name, Kind, Shape, Parameters, Trainable };

}  // namespace

LayerList::LayerList(QWidget* parent)
    : QWidget(parent),
      m_tree(new QTreeWidget),
      m_totals(new QLabel),
      m_cut(new QPushButton(tr("Cut here"))),
      m_addBlock(new QPushButton(tr("Add a block…"))) {
    m_tree->setColumnCount(5);
    m_tree->setHeaderLabels(
        {tr("Layer"), tr("Kind"), tr("Output shape"), tr("Parameters"), tr("Trainable")});
    m_tree->setRootIsDecorated(false);
    m_tree->setUniformRowHeights(true);
    m_tree->setAlternatingRowColors(true);
    m_tree->header()->setSectionResizeMode(QHeaderView::ResizeToContents);
    m_tree->setToolTip(tr("Untick a layer to freeze it and everything before it"));
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_tree, 1);
    auto* bottom = new QHBoxLayout;
    bottom->addWidget(m_totals, 1);
    bottom->addWidget(m_cut);
    bottom->addWidget(m_addBlock);
    layout->addLayout(bottom);
    connect(m_tree, &QTreeWidget::itemChanged, this, &LayerList::onItemChanged);
    connect(m_tree, &QTreeWidget::itemSelectionChanged, this, &LayerList::refresh);
    connect(m_cut, &QPushButton::clicked, this, [this] { Q_EMIT cutRequested(selectedLayer()); });
    connect(m_addBlock, &QPushButton::clicked, this,
            [this] { Q_EMIT addBlockRequested(selectedLayer()); });
    setSurgeryEnabled(false);
    refresh();
}

void LayerList::setLayers(const std::vector<LayerInfo>& layers) {
    m_layers = layers;
    if (indexOf(m_freezeUpTo) < 0)
        m_freezeUpTo.clear();
    const QSignalBlocker block(m_tree);
    m_tree->clear();
    const QLocale locale;
    for (const LayerInfo& layer : m_layers) {
        auto* item = new QTreeWidgetItem(m_tree);
        item->setText(Name, QString::fromStdString(layer.name));
        item->setText(Kind, QString::fromStdString(layer.kind));
        item->setText(Shape, QString::fromStdString(dimensionsText(layer.outputShape)));
        item->setText(Parameters, locale.toString(qint64(layer.parameters)));
        item->setTextAlignment(Parameters, Qt::AlignRight | Qt::AlignVCenter);
        item->setFlags(item->flags() | Qt::ItemIsUserCheckable);
    }
    refresh();
}

int LayerList::indexOf(const QString& layer) const {
    if (layer.isEmpty())
        return -1;
    const std::string name = layer.toStdString();
    for (std::size_t i = 0; i < m_layers.size(); ++i)
        if (m_layers[i].name == name)
            return int(i);
    return -1;
}

int LayerList::frozenThrough() const {
    return std::max(indexOf(m_freezeUpTo), indexOf(m_minimum));
}

void LayerList::setFreezeUpTo(const QString& layer) {
    const QString before = freezeUpTo();
    m_freezeUpTo = indexOf(layer) >= 0 ? layer : QString();
    refresh();
    if (freezeUpTo() != before)
        Q_EMIT freezeChanged(freezeUpTo());
}

QString LayerList::freezeUpTo() const {
    const int last = frozenThrough();
    return last < 0 ? QString() : QString::fromStdString(m_layers[std::size_t(last)].name);
}

void LayerList::setMinimumFreeze(const QString& layer) {
    const QString before = freezeUpTo();
    m_minimum = layer;
    refresh();
    if (freezeUpTo() != before)
        Q_EMIT freezeChanged(freezeUpTo());
}

void LayerList::setSurgeryEnabled(bool on, const QString& whyNot) {
    m_surgery = on;
    m_cut->setToolTip(on ? tr("Remove every layer after the selected one; a new dense layer with "
                              "one unit per class follows it, and pretrained weights stay for "
                              "what remains")
                         : whyNot);
    m_addBlock->setToolTip(on ? tr("Append layers after the cut (or after the selected layer): "
                                   "conv, sepconv, maxpool, avgpool, gap, flatten, bn, relu, "
                                   "dense, dropout")
                              : whyNot);
    refresh();
}

QString LayerList::selectedLayer() const {
    const QList<QTreeWidgetItem*> selected = m_tree->selectedItems();
    return selected.isEmpty() ? QString() : selected.front()->text(Name);
}

qint64 LayerList::frozenParameters() const {
    qint64 sum = 0;
    for (int i = 0; i <= frozenThrough(); ++i)
        sum += m_layers[std::size_t(i)].parameters;
    return sum;
}

qint64 LayerList::trainableParameters() const {
    qint64 sum = 0;
    for (const LayerInfo& layer : m_layers)
        sum += layer.parameters;
    return sum - frozenParameters();
}

void LayerList::onItemChanged(QTreeWidgetItem* item, int column) {
    if (column != Trainable)
        return;
    const int row = m_tree->indexOfTopLevelItem(item);
    if (row < 0)
        return;
    const bool trainable = item->checkState(Trainable) == Qt::Checked;
    setFreezeUpTo(
        trainable
            ? (row == 0 ? QString() : QString::fromStdString(m_layers[std::size_t(row) - 1].name))
            : QString::fromStdString(m_layers[std::size_t(row)].name));
}

void LayerList::refresh() {
    const int last = frozenThrough();
    const int locked = indexOf(m_minimum);
    {
        const QSignalBlocker block(m_tree);
        for (int i = 0; i < m_tree->topLevelItemCount(); ++i) {
            QTreeWidgetItem* item = m_tree->topLevelItem(i);
            item->setCheckState(Trainable, i > last ? Qt::Checked : Qt::Unchecked);
            const Qt::ItemFlags flags = item->flags();
            item->setFlags(i <= locked ? flags & ~Qt::ItemIsEnabled : flags | Qt::ItemIsEnabled);
        }
    }
    m_cut->setEnabled(m_surgery && !selectedLayer().isEmpty());
    m_addBlock->setEnabled(m_surgery && !m_layers.empty());
    const QLocale locale;
    m_totals->setText(m_layers.empty() ? tr("Layers appear once the model is built…")
                                       : tr("Trainable %1 / frozen %2 parameters")
                                             .arg(locale.toString(trainableParameters()),
                                                  locale.toString(frozenParameters())));
}

}  // namespace convscope::ui
