#include "ui/help/controltips.h"

#include "ui/help/glossary.h"

#include <QCoreApplication>
#include <QWidget>

namespace convscope::ui {

namespace {

struct Tip {
    const char* objectName;
    const char* term;  // a Glossary id
    const char* text;  // nullptr: keep the tooltip the panel set
};

const char* const kAppliedProperty = "convscopeControlTip";

const Tip kTips[] = {
    {"trainingImageSize", "inputShape",
     QT_TRANSLATE_NOOP("ControlTips", "Every image is resized to this square before training.")},
    {"trainingEpochs", "epoch",
     QT_TRANSLATE_NOOP("ControlTips", "How many passes over the training images to make.")},
    {"trainingBatchSize", "batch", nullptr},
    {"trainingOptimizer", "optimizer",
     QT_TRANSLATE_NOOP("ControlTips",
                       "adam: a forgiving default. sgd: with momentum 0.9. rmsprop: per-weight "
                       "step sizes.")},
    {"trainingLearningRate", "learningRate",
     QT_TRANSLATE_NOOP("ControlTips",
                       "Usual starts: 1e-3 for Adam, 1e-2 for SGD, 1e-4 or lower to fine-tune "
                       "pretrained layers.")},
    {"trainingStartingWeights", "transferLearning",
     QT_TRANSLATE_NOOP("ControlTips",
                       "Empty: random weights, training from scratch. A Keras .h5, torchvision "
                       ".pth or TF.js model.json: its layers are matched by name.")},
    {"trainingBottleneck", "bottleneck", nullptr},
    {"trainingFineTuneEpochs", "transferLearning", nullptr},
    {"trainingLayerTree", "frozenLayers", nullptr},
    // The charts' own tooltip reads out the values under the mouse, so the term goes on the
    // warning above them.
    {"overfitNote", "overfitting",
     QT_TRANSLATE_NOOP("ControlTips",
                       "The shaded band on the charts marks the epochs where the gap between "
                       "training and validation kept growing.")},
    {"augmentEnabled", "augmentation",
     QT_TRANSLATE_NOOP("ControlTips", "Off: training uses the images as they are.")},
    {"augment:rotation_range", "augmentation",
     QT_TRANSLATE_NOOP("ControlTips",
                       "Rotate by a random angle of up to ± this many degrees (rotation_range).")},
    {"augment:shear_range", "augmentation",
     QT_TRANSLATE_NOOP("ControlTips", "Slant by up to ± this many degrees (shear_range).")},
    {"augment:width_shift_range", "augmentation",
     QT_TRANSLATE_NOOP("ControlTips",
                       "Shift sideways by up to this fraction of the width; from 1 on, in "
                       "pixels (width_shift_range).")},
    {"augment:height_shift_range", "augmentation",
     QT_TRANSLATE_NOOP("ControlTips",
                       "Shift up or down by up to this fraction of the height; from 1 on, in "
                       "pixels (height_shift_range).")},
    {"augment:zoom_range", "augmentation",
     QT_TRANSLATE_NOOP("ControlTips",
                       "Zoom by a random factor between 1 − z and 1 + z (zoom_range).")},
    {"augment:channel_shift_range", "augmentation",
     QT_TRANSLATE_NOOP("ControlTips",
                       "Add one random amount between −c and +c (of 255) to every channel "
                       "value (channel_shift_range).")},
    {"augment:brightness_range[0]", "augmentation",
     QT_TRANSLATE_NOOP("ControlTips",
                       "Lowest brightness factor; 1 leaves the image as it is "
                       "(brightness_range).")},
    {"augment:brightness_range[1]", "augmentation",
     QT_TRANSLATE_NOOP("ControlTips",
                       "Highest brightness factor; 1 leaves the image as it is "
                       "(brightness_range).")},
    {"augment:fill_mode", "augmentation",
     QT_TRANSLATE_NOOP("ControlTips",
                       "How pixels moved in from outside the image are filled: nearest, "
                       "constant (the fill value), reflect or wrap (fill_mode).")},
    {"augment:cval", "augmentation",
     QT_TRANSLATE_NOOP("ControlTips",
                       "The grey level of new pixels when Fill is constant (cval).")},
    {"augment:horizontal_flip", "augmentation",
     QT_TRANSLATE_NOOP("ControlTips",
                       "Mirror half of the images left to right (horizontal_flip).")},
    {"augment:vertical_flip", "augmentation",
     QT_TRANSLATE_NOOP("ControlTips",
                       "Turn half of the images upside down (vertical_flip); only where that "
                       "keeps the class.")},
    {"filtersComputeLayer", "activationMaximization", nullptr},
    {"filtersSteps", "activationMaximization", nullptr},
    {"filtersJitter", "activationMaximization", nullptr},
    {"filtersOctaves", "activationMaximization", nullptr},
    {"featureMapsLayer", "featureMaps", nullptr},
    {"camMethod", "cam", nullptr},
    {"camClass", "cam", nullptr},
    {"camOpacity", "cam", nullptr},
};

const Tip* tipFor(const QString& objectName) {
    for (const Tip& t : kTips)
        if (objectName == QLatin1String(t.objectName))
            return &t;
    return nullptr;
}

}  // namespace

QString ControlTips::termOf(const QString& objectName) {
    const Tip* t = tipFor(objectName);
    return t ? QString::fromLatin1(t->term) : QString();
}

QString ControlTips::compose(const QString& objectName, const QString& current) {
    const Tip* t = tipFor(objectName);
    const GlossaryEntry* e = t ? Glossary::find(QString::fromLatin1(t->term)) : nullptr;
    if (!e)
        return current;
    const QString own = t->text ? QCoreApplication::translate("ControlTips", t->text) : current;
    QString html;
    if (!own.isEmpty())
        html += QStringLiteral("<p>%1</p>").arg(own.toHtmlEscaped());
    html += QStringLiteral("<p><b>%1</b>: %2 <i>%3</i></p>")
                .arg(e->term.toHtmlEscaped(), e->summary.toHtmlEscaped(),
                     QCoreApplication::translate("ControlTips", "More in Help › Glossary."));
    return html;
}

int ControlTips::apply(QWidget* root) {
    int found = 0;
    for (const Tip& t : kTips) {
        auto* w = root->findChild<QWidget*>(QLatin1String(t.objectName));
        if (!w)
            continue;
        ++found;
        if (w->property(kAppliedProperty).toBool())
            continue;
        w->setToolTip(compose(w->objectName(), w->toolTip()));
        w->setProperty(kAppliedProperty, true);
    }
    return found;
}

}  // namespace convscope::ui
