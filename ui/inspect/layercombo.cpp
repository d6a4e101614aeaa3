#include "ui/inspect/layercombo.h"

#include "util/text.h"

#include <QComboBox>
#include <QSignalBlocker>

namespace convscope::ui {

void fillLayerCombo(QComboBox* combo, const InspectLayers& layers,
                    const std::function<bool(const convscope::InspectableLayer&)>& keep) {
    const QVariant previous = combo->currentData();
    const QSignalBlocker block(combo);
    combo->clear();
    for (const InspectableLayer& l : layers.layers) {
        if (!keep(l))
            continue;
        const QString shape = QString::fromStdString(dimensionsText(l.outputShape));
        combo->addItem(QStringLiteral("%1  (%2)").arg(QString::fromStdString(l.name), shape),
                       QString::fromStdString(l.name));
    }
    const int index = combo->findData(previous);
    combo->setCurrentIndex(index >= 0 ? index : 0);
}

}  // namespace convscope::ui
