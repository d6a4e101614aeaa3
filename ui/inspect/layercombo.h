#pragma once

#include "ui/engine/inspection.h"

#include <functional>

class QComboBox;

namespace convscope::ui {

/// Refills a layer chooser with the layers `keep` accepts, shown as "name  (C×H×W)" with the
/// layer name as item data, keeping the previous choice when it is still there. Emits no
/// signals while it works.
void fillLayerCombo(QComboBox* combo, const InspectLayers& layers,
                    const std::function<bool(const convscope::InspectableLayer&)>& keep);

}  // namespace convscope::ui
