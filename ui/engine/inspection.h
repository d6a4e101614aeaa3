#pragma once

// Plain values that inspection requests answer with, across threads (registered metatypes).

#include "inspect/inspector.h"

#include <QImage>
#include <QList>
#include <QMetaType>
#include <QString>
#include <QStringList>

#include <vector>

namespace convscope::ui {

/// Who asked for a piece of work, which decides how its failure is shown: what the user just
/// asked for gets a dialog; background work (the refresh after every epoch, previews, layer
/// lists) goes to the Issues dock only.
enum class Origin { User, Background };

/// The layers of a weight file that can be inspected, and what the file says of its model.
struct InspectLayers {
    QString weightsPath;
    std::vector<convscope::InspectableLayer> layers;
    QStringList classNames;
    bool gapHead = false;  ///< global average pooling + dense: CAM works
    int inputSize = 0;
    /// Who asked; what the views request in turn for these layers fails the same way.
    Origin origin = Origin::User;
};

/// A conv layer's kernels as small images (kernel-sized), row by row.
struct FilterGrid {
    QString weightsPath;
    QString layer;
    int filters = 0;
    int inputChannels = 0;
    int columns = 0;  ///< tiles per row; 0 when any flow suits (one tile per filter)
    QList<QImage> tiles;
};

/// What a filter responds to most: the input found by gradient ascent.
struct MaximizedFilter {
    QString layer;
    int filter = -1;
    QImage image;
    float startActivation = 0;
    float finalActivation = 0;
};

/// A whole layer's pictures, highest activation first.
struct MaximizedLayer {
    QString layer;
    QList<MaximizedFilter> filters;
    bool cancelled = false;
};

/// One layer's activations for one image, as core computed them (values for read-outs).
struct FeatureMapsResult {
    QString weightsPath;
    QString imagePath;
    QImage image;  ///< the network's input, as decoded
    convscope::FeatureMaps maps;
};

/// A class activation map for one image, the image it was computed at and the model's classes.
struct CamResult {
    QString imagePath;
    QImage image;  ///< the heat map's size
    QStringList classNames;
    convscope::ClassActivation activation;
};

}  // namespace convscope::ui

Q_DECLARE_METATYPE(convscope::ui::InspectLayers)
Q_DECLARE_METATYPE(convscope::ui::Origin)
Q_DECLARE_METATYPE(convscope::ui::FilterGrid)
Q_DECLARE_METATYPE(convscope::ui::MaximizedFilter)
Q_DECLARE_METATYPE(convscope::ui::MaximizedLayer)
Q_DECLARE_METATYPE(convscope::ui::FeatureMapsResult)
Q_DECLARE_METATYPE(convscope::ui::CamResult)
Q_DECLARE_METATYPE(convscope::MaximizeOptions)
