#include "ui/engine/inspectworker.h"

#include "data/imagedecoder.h"
#include "models/modelconfig.h"
#include "ui/engine/enginebridge.h"
#include "ui/engine/failure.h"

#include <QFileInfo>

namespace convscope::ui {

namespace {

MaximizedFilter toPicture(const QString& layer, const FilterPicture& p) {
    MaximizedFilter m;
    m.layer = layer;
    m.filter = p.filter;
    m.image = toQImage(p.image);
    m.startActivation = p.startActivation;
    m.finalActivation = p.finalActivation;
    return m;
}

}  // namespace

InspectWorker::InspectWorker()
    : m_inspectors([](const QString& path) {
          auto inspector = std::make_unique<Inspector>(path.toStdString());
          inspector->setDevice(DeviceChoice{});  // the GPU when there is one
          return inspector;
      }) {}
InspectWorker::~InspectWorker() = default;

const RgbImage& InspectWorker::inputImage(const QString& imagePath, int size) {
    if (imagePath != m_imagePath || size != m_imageSize || m_image.empty()) {
        m_image = {};
        DecodeOptions decode;
        decode.width = decode.height = size;  // squashed, as the network sees it
        m_image = decodeRgbImage(imagePath.toStdString(), decode);
        m_imagePath = imagePath;
        m_imageSize = size;
    }
    return m_image;
}

void InspectWorker::listLayers(const QString& weightsPath, Origin origin) {
    try {
        Inspector& inspector = inspectorFor(weightsPath);
        InspectLayers list;
        list.weightsPath = weightsPath;
        list.layers = inspector.layers();
        for (const auto& n : inspector.metadata().classNames)
            list.classNames.push_back(QString::fromStdString(n));
        list.gapHead = inspector.metadata().model.head == Head::GlobalAveragePool;
        list.inputSize = inspector.metadata().model.inputSize;
        list.origin = origin;
        Q_EMIT layersReady(list);
    } catch (...) {
        reportFailure(QStringLiteral("Inspect"), origin);
    }
}

void InspectWorker::filters(const QString& weightsPath, const QString& layer,
                            FilterChannels channels, FilterNormalisation normalisation,
                            Origin origin) {
    try {
        const FilterImages images =
            inspectorFor(weightsPath).filterWeights(layer.toStdString(), channels, normalisation);
        FilterGrid grid;
        grid.weightsPath = weightsPath;
        grid.layer = layer;
        grid.filters = images.filters;
        grid.inputChannels = images.inputChannels;
        grid.columns = channels == FilterChannels::PerInput ? images.columns : 0;
        for (const RgbImage& tile : images.tiles)
            grid.tiles.push_back(toQImage(tile));
        Q_EMIT filtersReady(grid);
    } catch (...) {
        reportFailure(QStringLiteral("Filters"), origin);
    }
}

void InspectWorker::maximizeFilter(const QString& weightsPath, const QString& layer, int filter,
                                   const MaximizeOptions& options,
                                   std::shared_ptr<std::atomic<bool>> cancel) {
    if (cancel->load()) {
        Q_EMIT maximizeProgress(0, 0);  // dropped: the request was cancelled while queued
        return;
    }
    try {
        const auto picture = inspectorFor(weightsPath)
                                 .maximizeFilter(layer.toStdString(), filter, options, cancel.get(),
                                                 [this](int done, int total) {
                                                     Q_EMIT maximizeProgress(done, total);
                                                 });
        if (picture)
            Q_EMIT filterMaximized(toPicture(layer, *picture));
        else
            Q_EMIT maximizeProgress(0, 0);  // cancelled: nothing to show
    } catch (...) {
        reportFailure(QStringLiteral("Activation maximization"), Origin::User);
    }
}

void InspectWorker::maximizeLayer(const QString& weightsPath, const QString& layer,
                                  const MaximizeOptions& options, int limit,
                                  std::shared_ptr<std::atomic<bool>> cancel) {
    MaximizedLayer result;
    result.layer = layer;
    try {
        if (!cancel->load()) {
            const auto pictures = inspectorFor(weightsPath)
                                      .maximizeLayer(layer.toStdString(), options, limit,
                                                     cancel.get(), [this](int done, int total) {
                                                         Q_EMIT maximizeProgress(done, total);
                                                     });
            for (const FilterPicture& p : pictures)
                result.filters.push_back(toPicture(layer, p));
        }
        result.cancelled = cancel->load();
        Q_EMIT layerMaximized(result);
    } catch (...) {
        reportFailure(QStringLiteral("Activation maximization"), Origin::User);
        result.cancelled = true;
        Q_EMIT layerMaximized(result);
    }
}

void InspectWorker::featureMaps(const QString& weightsPath, const QString& imagePath,
                                const QString& layer, Origin origin, int generation,
                                std::shared_ptr<std::atomic<int>> latest) {
    if (generation != latest->load())
        return;  // a newer request is queued behind this one
    try {
        Inspector& inspector = inspectorFor(weightsPath);
        const RgbImage& image = inputImage(imagePath, inspector.metadata().model.inputSize);
        FeatureMapsResult result;
        result.weightsPath = weightsPath;
        result.imagePath = imagePath;
        result.maps = inspector.featureMaps(image, layer.toStdString());
        result.image = toQImage(image);
        if (generation == latest->load())
            Q_EMIT featureMapsReady(result);
    } catch (...) {
        reportFailure(QStringLiteral("Feature maps"), origin);
    }
}

void InspectWorker::classActivation(const QString& weightsPath, const QString& imagePath,
                                    int classIndex, CamMethod method, int generation,
                                    std::shared_ptr<std::atomic<int>> latest) {
    if (generation != latest->load())
        return;
    try {
        Inspector& inspector = inspectorFor(weightsPath);
        DecodeOptions decode;
        decode.width = decode.height = 200;  // the classify panel's picture
        decode.keepAspect = true;
        const RgbImage image = decodeRgbImage(imagePath.toStdString(), decode);
        CamResult result;
        result.imagePath = imagePath;
        result.image = toQImage(image);
        for (const auto& n : inspector.metadata().classNames)
            result.classNames.push_back(QString::fromStdString(n));
        result.activation = inspector.classActivation(image, classIndex, method);
        if (generation == latest->load())
            Q_EMIT classActivationReady(result);
    } catch (...) {
        reportFailure(QStringLiteral("Class activation map"), Origin::User);
    }
}

}  // namespace convscope::ui
