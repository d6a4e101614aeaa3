#pragma once

// The worker behind EngineBridge's inspection requests. Two run, each on its own thread and
// with its own Inspector: one for the quick requests (layers, filters, feature maps, class
// activation maps) and one for activation maximization, which may run for minutes.
// Internal to ui/engine.

#include "ui/engine/failure.h"
#include "ui/engine/filebackedcache.h"
#include "ui/engine/inspection.h"

#include <QObject>

#include <atomic>
#include <memory>

namespace convscope::ui {

class InspectWorker : public QObject {
    Q_OBJECT
public:
    InspectWorker();
    ~InspectWorker() override;

public:  // run on the worker thread (queued through QMetaObject::invokeMethod)
    void listLayers(const QString& weightsPath, convscope::ui::Origin origin);
    void filters(const QString& weightsPath, const QString& layer,
                 convscope::FilterChannels channels, convscope::FilterNormalisation normalisation,
                 convscope::ui::Origin origin);
    void maximizeFilter(const QString& weightsPath, const QString& layer, int filter,
                        const convscope::MaximizeOptions& options,
                        std::shared_ptr<std::atomic<bool>> cancel);
    void maximizeLayer(const QString& weightsPath, const QString& layer,
                       const convscope::MaximizeOptions& options, int limit,
                       std::shared_ptr<std::atomic<bool>> cancel);
    void featureMaps(const QString& weightsPath, const QString& imagePath, const QString& layer,
                     convscope::ui::Origin origin, int generation,
                     std::shared_ptr<std::atomic<int>> latest);
    void classActivation(const QString& weightsPath, const QString& imagePath, int classIndex,
                         convscope::CamMethod method, int generation,
                         std::shared_ptr<std::atomic<int>> latest);

Q_SIGNALS:
    void layersReady(const convscope::ui::InspectLayers& layers);
    void filtersReady(const convscope::ui::FilterGrid& grid);
    void maximizeProgress(int done, int total);
    void filterMaximized(const convscope::ui::MaximizedFilter& picture);
    void layerMaximized(const convscope::ui::MaximizedLayer& layer);
    void featureMapsReady(const convscope::ui::FeatureMapsResult& result);
    void classActivationReady(const convscope::ui::CamResult& result);
    void failed(const QString& what, const QString& message, convscope::ui::Origin origin);

private:
    /// failed() with the reason of the exception being handled; call in a catch block.
    void reportFailure(const QString& what, Origin origin) {
        Q_EMIT failed(what, currentFailure(what), origin);
    }
    /// The inspector for the file as it is now: reloaded when the file changed (training
    /// rewrites its snapshot every epoch).
    convscope::Inspector& inspectorFor(const QString& weightsPath) {
        return m_inspectors.get(weightsPath);
    }
    /// The image at the network's input size; the last one is kept (hover, layer changes).
    const convscope::RgbImage& inputImage(const QString& imagePath, int size);

    FileBackedCache<convscope::Inspector> m_inspectors;
    QString m_imagePath;
    int m_imageSize = 0;
    convscope::RgbImage m_image;
};

}  // namespace convscope::ui
