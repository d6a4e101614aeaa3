#pragma once

#include "models/modelconfig.h"

#include <QWidget>

#include <vector>

class QLabel;
class QPushButton;
class QTreeWidget;
class QTreeWidgetItem;

namespace convscope::ui {

/// A model's layers (name, kind, output shape, parameters, trainable) with the totals of
/// trainable and frozen parameters. Unticking "trainable" on a layer freezes everything up to
/// and including it (ClassifierImpl::freezeUpTo); ticking it freezes up to the layer before.
class LayerList : public QWidget {
    Q_OBJECT
public:
    explicit LayerList(QWidget* parent = nullptr);

    /// Shows `layers`; the freeze point stays where a layer of its name still exists.
    void setLayers(const std::vector<convscope::LayerInfo>& layers);
    /// Freezes up to and including `layer` (empty: nothing frozen).
    void setFreezeUpTo(const QString& layer);
    /// The layer everything is frozen up to, for TrainConfig::freezeUpTo; empty for none.
    QString freezeUpTo() const;
    /// However the boxes are ticked, layers up to and including this one stay frozen
    /// (the backbone in bottleneck mode); empty to lift it.
    void setMinimumFreeze(const QString& layer);

    /// Network surgery from the list: "Cut here" on the selected layer, "Add a block…" after
    /// it. Off (with `whyNot` as the buttons' tooltip) for networks that cannot be cut.
    void setSurgeryEnabled(bool on, const QString& whyNot = {});
    /// The selected layer's name; empty when none is selected.
    QString selectedLayer() const;
    QPushButton* cutButton() const { return m_cut; }
    QPushButton* addBlockButton() const { return m_addBlock; }

    qint64 trainableParameters() const;
    qint64 frozenParameters() const;
    QTreeWidget* tree() const { return m_tree; }
    QLabel* totals() const { return m_totals; }

Q_SIGNALS:
    void freezeChanged(const QString& layer);
    void cutRequested(const QString& layer);
    void addBlockRequested(const QString& layer);

private:
    int indexOf(const QString& layer) const;
    int frozenThrough() const;  // the last frozen row, -1 for none
    void onItemChanged(QTreeWidgetItem* item, int column);
    void refresh();

    std::vector<convscope::LayerInfo> m_layers;
    QString m_freezeUpTo;
    QString m_minimum;
    QTreeWidget* m_tree;
    QLabel* m_totals;
    QPushButton* m_cut;
    QPushButton* m_addBlock;
    bool m_surgery = false;
};

}  // namespace convscope::ui
