#include "ui/help/glossary.h"

#include <QCoreApplication>
#include <QRegularExpression>

#include <algorithm>

namespace convscope::ui {

namespace {

struct Row {
    const char* id;
    const char* term;
    const char* summary;
    const char* body;
    const char* target;
    const char* where;
};

// The one table. Bodies are HTML; keep each to what a learner needs at the control.
const Row kRows[] = {
    {"epoch", QT_TRANSLATE_NOOP("Glossary", "Epoch"),
     QT_TRANSLATE_NOOP("Glossary", "One pass of training over every training image."),
     QT_TRANSLATE_NOOP(
         "Glossary",
         "<p>An epoch is one pass over the whole training set: every training image is used "
         "once (with fresh random augmentation each time). After each epoch ConvScope scores the "
         "network on the validation images, saves a checkpoint and adds a point to the "
         "charts.</p><p>More epochs give the network more chances to learn, and more chances "
         "to memorise the training images (overfitting): watch the validation curve, not only "
         "the training one.</p>"),
     "trainingEpochs", QT_TRANSLATE_NOOP("Glossary", "Epochs, in the Training panel")},
    {"batch", QT_TRANSLATE_NOOP("Glossary", "Batch and batch size"),
     QT_TRANSLATE_NOOP("Glossary",
                       "A batch is the group of images used for one weight update; the batch "
                       "size is how many images it holds."),
     QT_TRANSLATE_NOOP(
         "Glossary",
         "<p>Training does not update the weights after every image, nor once per epoch: it "
         "takes a batch of images, averages their loss, computes the gradient and updates the "
         "weights once (one <i>step</i>).</p><p>An epoch therefore makes "
         "ceil(training images ÷ batch size) updates: 2,000 images in batches of 32 make 63. "
         "Larger batches give smoother gradients and keep the hardware busier, but need more "
         "memory (the input and every layer's activations grow with the batch) and make fewer "
         "updates per epoch. On small datasets 16 to 64 is usually right. <i>auto</i> picks "
         "the largest power of two that fits the GPU (32 on the CPU).</p><p>The line under the "
         "settings does this arithmetic for your data and estimates the memory a batch "
         "needs.</p>"),
     "trainingBatchSize", QT_TRANSLATE_NOOP("Glossary", "Batch size, in the Training panel")},
    {"inputShape", QT_TRANSLATE_NOOP("Glossary", "Input shape and channel order"),
     QT_TRANSLATE_NOOP("Glossary",
                       "The size and layout of the numbers a network takes in: 3 colour "
                       "channels × image size × image size, in a fixed channel order and "
                       "value range."),
     QT_TRANSLATE_NOOP(
         "Glossary",
         "<p>A network takes a fixed-size array of numbers. ConvScope resizes every image to "
         "the <i>Image size</i> square and feeds 3 colour channels, so one 150-pixel image is "
         "3 × 150 × 150 values and a batch of 32 is 32 × 3 × 150 × 150.</p>"
         "<p><b>Channels first or last.</b> PyTorch writes a batch as (batch, channels, height, "
         "width), <i>channels first</i> (NCHW); Keras and TensorFlow as (batch, height, width, "
         "channels), <i>channels last</i> (NHWC). Same numbers, different layout; ConvScope "
         "converts when it reads and writes Keras weights.</p>"
         "<p><b>Channel order.</b> Images are read as RGB. Networks trained with Caffe's "
         "conventions (Keras's VGG16 and ResNet50 weights) expect BGR.</p>"
         "<p><b>Value range</b>, by preprocessing preset:</p><ul>"
         "<li><i>rescale</i>: x / 255, so values lie in [0, 1] (ConvScope's own networks);</li>"
         "<li><i>torchvision</i>: x / 255, then per channel minus the ImageNet mean (0.485, "
         "0.456, 0.406) and divided by its standard deviation (0.229, 0.224, 0.225);</li>"
         "<li><i>caffe</i>: RGB turned into BGR, the ImageNet mean (103.939, 116.779, 123.68 "
         "for B, G, R) subtracted, no scaling;</li>"
         "<li><i>tf</i>: x / 127.5 − 1, so values lie in [−1, 1] (MobileNet).</li></ul>"
         "<p>A pretrained network only works with the preprocessing it was trained with; "
         "starting weights that record theirs set it for you.</p>"),
     "trainingImageSize", QT_TRANSLATE_NOOP("Glossary", "Image size, in the Training panel")},
    {"learningRate", QT_TRANSLATE_NOOP("Glossary", "Learning rate and schedules"),
     QT_TRANSLATE_NOOP("Glossary", "How big a step each weight update takes against the gradient."),
     QT_TRANSLATE_NOOP(
         "Glossary",
         "<p>Each update moves every weight a little against the gradient of the loss; the "
         "learning rate scales that step. Too high and the loss jumps about or explodes (NaN); "
         "too low and learning crawls. Usual starts: 1e-3 for Adam, 1e-2 to 1e-1 for SGD from "
         "scratch, 1e-4 or lower for fine-tuning pretrained layers, so that what they learnt is "
         "not wrecked.</p><p>A <b>schedule</b> changes the rate during training: <i>step</i> "
         "multiplies it by 0.1 every few epochs, <i>cosine</i> lowers it smoothly towards "
         "zero, <i>plateau</i> cuts it when the validation loss stops improving. The window "
         "trains with a constant rate (phase 2 of fine-tuning uses 1e-4); "
         "<tt>convscope train --schedule</tt> offers the others.</p>"),
     "trainingLearningRate", QT_TRANSLATE_NOOP("Glossary", "Learning rate, in the Training panel")},
    {"optimizer", QT_TRANSLATE_NOOP("Glossary", "Optimizers: SGD, Adam, RMSprop"),
     QT_TRANSLATE_NOOP("Glossary",
                       "The rule that turns each batch's gradient into weight updates."),
     QT_TRANSLATE_NOOP(
         "Glossary",
         "<p><b>SGD</b> (stochastic gradient descent): weight −= learning rate × the batch's "
         "gradient. With <b>momentum</b> (0.9 here) it keeps a running average of past steps, "
         "so updates roll over small bumps and speed up along directions that stay the "
         "same.</p><p><b>RMSprop</b> divides each weight's step by a running average of that "
         "weight's recent gradient size, so every weight moves at a similar pace.</p>"
         "<p><b>Adam</b> combines the two (momentum and per-weight scaling); it is a forgiving "
         "default. Well-tuned SGD with momentum often generalises a little better, and is what "
         "phase 2 of fine-tuning uses.</p>"),
     "trainingOptimizer", QT_TRANSLATE_NOOP("Glossary", "Optimizer, in the Training panel")},
    {"augmentation", QT_TRANSLATE_NOOP("Glossary", "Augmentation"),
     QT_TRANSLATE_NOOP("Glossary",
                       "Random changes to each training image every time it is used, so the "
                       "network sees more variety."),
     QT_TRANSLATE_NOOP(
         "Glossary",
         "<p>Each time a training image is used it is rotated, shifted, sheared, zoomed, "
         "flipped or brightened by a random amount within the ranges you set (Keras's "
         "ImageDataGenerator parameters). The network never sees exactly the same picture "
         "twice, which fights overfitting on small datasets.</p><p>Only training images are "
         "augmented: validation images are used as they are, so the validation score measures "
         "the real task. Choose changes that keep the class: a mirrored cat is a cat, an "
         "upside-down 6 is a 9. The preview grid shows what your settings do. Bottleneck "
         "features cannot be augmented (they are computed once).</p>"),
     "augmentEnabled", QT_TRANSLATE_NOOP("Glossary", "the Augmentation panel")},
    {"validationSplit", QT_TRANSLATE_NOOP("Glossary", "Validation split"),
     QT_TRANSLATE_NOOP("Glossary",
                       "Images kept out of training and used only to measure how the network "
                       "does on pictures it has not learnt from."),
     QT_TRANSLATE_NOOP(
         "Glossary",
         "<p>ConvScope sets part of every class aside as the validation set: 20% of each class "
         "by default, drawn with a fixed seed (1337), or your own <tt>train/</tt> and "
         "<tt>validation/</tt> folders. The network never learns from them; after every epoch "
         "it is scored on them.</p><p>Training accuracy says how well the network fits the "
         "images it learns from; validation accuracy estimates how it will do on new images. "
         "The Dataset panel lists the training and validation count of each class.</p>"),
     "classTable", QT_TRANSLATE_NOOP("Glossary", "the class list, in the Dataset panel")},
    {"overfitting", QT_TRANSLATE_NOOP("Glossary", "Overfitting"),
     QT_TRANSLATE_NOOP("Glossary",
                       "The network memorises the training images: training accuracy keeps "
                       "rising while validation accuracy stalls or falls."),
     QT_TRANSLATE_NOOP(
         "Glossary",
         "<p>A network with many weights can learn the training images by heart, noise and "
         "all, instead of what makes the classes differ. The sign is a widening gap between "
         "the training and validation curves: training loss keeps falling while validation "
         "loss stalls or rises.</p><p>ConvScope marks it on the charts when the gap (training "
         "minus validation accuracy, or validation minus training loss) has grown at each of 3 "
         "epochs in a row and is over 5 accuracy points or 0.1 in loss.</p><p>Remedies: more "
         "data, augmentation, transfer learning from a pretrained network, a smaller network, "
         "or fewer epochs (keep the epoch where validation was best).</p>"),
     "trainingCharts", QT_TRANSLATE_NOOP("Glossary", "the charts, in the Training panel")},
    {"transferLearning", QT_TRANSLATE_NOOP("Glossary", "Transfer learning"),
     QT_TRANSLATE_NOOP("Glossary",
                       "Starting from a network already trained on a large dataset (such as "
                       "ImageNet) and retraining it for your classes."),
     QT_TRANSLATE_NOOP(
         "Glossary",
         "<p>Features learnt from a million images (edges, textures, parts of objects) help "
         "with most pictures. Instead of random weights, start from a pretrained backbone: "
         "<i>Starting weights</i> takes a Keras <tt>.h5</tt>, a torchvision <tt>.pth</tt> or a "
         "TF.js <tt>model.json</tt>, fills the layers whose names match and gives the network "
         "a new head for your classes.</p><p>With a few hundred images per class this is "
         "usually far better than training from scratch. The usual recipe: freeze the "
         "backbone and train the head, then unfreeze the last block and fine-tune it with a "
         "small learning rate (the <i>Fine-tune (two phases)</i> button).</p>"),
     "trainingStartingWeights",
     QT_TRANSLATE_NOOP("Glossary", "Starting weights, in the Training panel")},
    {"frozenLayers", QT_TRANSLATE_NOOP("Glossary", "Frozen layers"),
     QT_TRANSLATE_NOOP("Glossary", "Layers whose weights stay as they are during training."),
     QT_TRANSLATE_NOOP(
         "Glossary",
         "<p>A frozen layer still computes its output, but its weights are not updated. "
         "Freezing a pretrained backbone protects what it learnt while the new head, which "
         "starts random, learns; it also trains faster.</p><p>In the Layers tab, untick "
         "<i>trainable</i> on a layer to freeze it and every layer before it (\"freeze up "
         "to\"); the totals show how many parameters train and how many are frozen.</p>"),
     "trainingLayers", QT_TRANSLATE_NOOP("Glossary", "the Layers tab, in the Training panel")},
    {"bottleneck", QT_TRANSLATE_NOOP("Glossary", "Bottleneck features"),
     QT_TRANSLATE_NOOP("Glossary",
                       "The frozen backbone's output for each image, computed once and stored, "
                       "so that only the head trains on it."),
     QT_TRANSLATE_NOOP(
         "Glossary",
         "<p>When the backbone is frozen its output for an image never changes, so there is no "
         "need to compute it every epoch. Bottleneck features (the Keras blog's term) run the "
         "backbone once over every training and validation image, store what it outputs (the "
         "narrow point before the head) and train only the head on that: many epochs in "
         "seconds.</p><p>The price: no augmentation (each image has one stored output), and "
         "the backbone cannot be fine-tuned in that run.</p>"),
     "trainingBottleneck",
     QT_TRANSLATE_NOOP("Glossary", "Bottleneck features, in the Training panel")},
    {"activationMaximization", QT_TRANSLATE_NOOP("Glossary", "Activation maximization"),
     QT_TRANSLATE_NOOP("Glossary",
                       "Finding the input picture that excites one filter most, by gradient "
                       "ascent on the image."),
     QT_TRANSLATE_NOOP(
         "Glossary",
         "<p>Start from a grey image and change its pixels, step by step, in the direction that "
         "raises one filter's mean activation: gradient <i>ascent</i> on the input, with the "
         "weights fixed. The picture shows what the filter responds to: colours and edges in "
         "early layers, textures and patterns deeper down.</p><p>Jitter (a random shift), blur "
         "and octaves (start small, then enlarge) keep the picture from turning into "
         "high-frequency noise.</p>"),
     "filtersComputeLayer", QT_TRANSLATE_NOOP("Glossary", "Filters, in the Inspect tab")},
    {"featureMaps", QT_TRANSLATE_NOOP("Glossary", "Feature maps"),
     QT_TRANSLATE_NOOP("Glossary",
                       "A layer's output for one image: one 2-D map per channel, bright where "
                       "that channel's pattern was found."),
     QT_TRANSLATE_NOOP(
         "Glossary",
         "<p>A convolution layer slides each of its filters over its input and writes one "
         "number per position: that filter's feature map (or activation map). Early layers' "
         "maps look like edge- and colour-filtered copies of the image; deeper maps are "
         "smaller (pooling halves them) and respond to larger, more abstract patterns.</p>"
         "<p>The Feature maps tab shows every channel of the chosen layer for the chosen "
         "image.</p>"),
     "featureMapsLayer", QT_TRANSLATE_NOOP("Glossary", "Feature maps, in the Inspect tab")},
    {"cam", QT_TRANSLATE_NOOP("Glossary", "Class activation map (CAM)"),
     QT_TRANSLATE_NOOP("Glossary",
                       "A heat map over the image showing where the network found the evidence "
                       "for a class."),
     QT_TRANSLATE_NOOP(
         "Glossary",
         "<p>Class activation mapping (Zhou et al., CVPR 2016) needs a head of global average "
         "pooling + dense (the <i>gap</i> head): the last convolution layer's feature maps are "
         "weighted by the dense layer's weights for the class and summed, giving a coarse map "
         "that is enlarged onto the image. Grad-CAM weights the maps by the gradient of the "
         "class score instead, so it works with any head.</p><p>Use it to check that the "
         "network looks at the object and not at the background, a classic sign that it "
         "learnt a shortcut from the dataset.</p>"),
     "camMethod", QT_TRANSLATE_NOOP("Glossary", "Heat map, in the Classify panel")},
};

QString translated(const char* text) {
    return QCoreApplication::translate("Glossary", text);
}

}  // namespace

const QList<GlossaryEntry>& Glossary::entries() {
    static const QList<GlossaryEntry> all = [] {
        QList<GlossaryEntry> list;
        for (const Row& r : kRows)
            list.push_back({QString::fromLatin1(r.id), translated(r.term), translated(r.summary),
                            translated(r.body), QString::fromLatin1(r.target),
                            translated(r.where)});
        return list;
    }();
    return all;
}

const GlossaryEntry* Glossary::find(const QString& id) {
    for (const GlossaryEntry& e : entries())
        if (e.id == id)
            return &e;
    return nullptr;
}

QList<GlossaryEntry> Glossary::search(const QString& query) {
    static const QRegularExpression tags(QStringLiteral("<[^>]*>"));
    const QStringList words = query.simplified().split(QLatin1Char(' '), Qt::SkipEmptyParts);
    QList<GlossaryEntry> found;
    for (const GlossaryEntry& e : entries()) {
        const QString text =
            e.term + QLatin1Char(' ') + e.summary + QLatin1Char(' ') + QString(e.body).remove(tags);
        const bool all = std::all_of(words.begin(), words.end(), [&](const QString& w) {
            return text.contains(w, Qt::CaseInsensitive);
        });
        if (all)
            found.push_back(e);
    }
    return found;
}

}  // namespace convscope::ui
