#pragma once

#include "ui/engine/inspection.h"

#include <QWidget>

class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QProgressBar;
class QPushButton;
class QSpinBox;

namespace convscope::ui {

class EngineBridge;
class ImageGridView;

/// A conv layer's filters: its kernels as images (first layer in colour, deeper ones averaged
/// or per input channel, normalised per filter or per layer), and what each filter responds
/// to, found by activation maximization: click a kernel for its picture, or compute the whole
/// layer in the background, sorted by the activation reached. All work goes through the bridge.
class FiltersView : public QWidget {
    Q_OBJECT
public:
    explicit FiltersView(EngineBridge* bridge, QWidget* parent = nullptr);

    /// The layers of the current weights; asks for the selected layer's kernels.
    void setLayers(const InspectLayers& layers);
    bool selectLayer(const QString& name);
    QString layer() const;
    void setDisplay(convscope::FilterChannels channels,
                    convscope::FilterNormalisation normalisation);

    convscope::MaximizeOptions options() const;
    void setOptions(const convscope::MaximizeOptions& options);
    /// Side of each kernel on screen.
    void setKernelSize(int px);
    /// How many of the layer's pictures to keep, best first (0: all).
    void setShowBest(int count);

    void maximizeFilter(int filter);
    void maximizeLayer();
    void cancelMaximize();
    bool isMaximizing() const { return m_pending > 0; }

    ImageGridView* kernelGrid() const { return m_kernels; }
    ImageGridView* pictureGrid() const { return m_pictures; }
    /// The last single filter's picture.
    const MaximizedFilter& picture() const { return m_picture; }
    /// The last layer's pictures as shown, best first.
    const QList<MaximizedFilter>& layerPictures() const { return m_layerPictures; }
    QString readout() const;

Q_SIGNALS:
    void kernelsShown();
    void pictureShown(int filter);
    void layerMaximized(bool cancelled);

private:
    QWidget* createKernelPane();
    QWidget* createMaximizePane();
    void requestKernels(Origin origin = Origin::User);
    void onKernels(const FilterGrid& grid);
    void onPicture(const MaximizedFilter& picture);
    void onLayerPictures(const MaximizedLayer& layer);
    void onProgress(int done, int total);
    void showLayerPictures();
    void setPending(int pending);

    EngineBridge* m_bridge;
    InspectLayers m_layers;
    FilterGrid m_grid;
    MaximizedFilter m_picture;
    QList<MaximizedFilter> m_allPictures;
    QList<MaximizedFilter> m_layerPictures;
    int m_pending = 0;

    QComboBox* m_layer = nullptr;
    QComboBox* m_channels = nullptr;
    QComboBox* m_normalisation = nullptr;
    QSpinBox* m_kernelZoom = nullptr;
    ImageGridView* m_kernels = nullptr;
    QSpinBox* m_steps = nullptr;
    QDoubleSpinBox* m_stepSize = nullptr;
    QSpinBox* m_jitter = nullptr;
    QSpinBox* m_blurEvery = nullptr;
    QSpinBox* m_octaves = nullptr;
    QSpinBox* m_showBest = nullptr;
    QPushButton* m_computeLayer = nullptr;
    QPushButton* m_cancel = nullptr;
    QProgressBar* m_progress = nullptr;
    QLabel* m_pictureLabel = nullptr;
    QLabel* m_pictureCaption = nullptr;
    QLabel* m_readout = nullptr;
    ImageGridView* m_pictures = nullptr;
};

}  // namespace convscope::ui
