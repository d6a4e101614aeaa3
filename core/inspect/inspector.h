#pragma once

#include "data/rgbimage.h"
#include "io/kernellayout.h"
#include "io/weightsmetadata.h"
#include "runtime.h"

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace convscope {

class ClassifierImpl;

/// How a conv layer's kernels are shown. Rgb needs a layer with 3 input channels (the
/// first); Mean averages over input channels; PerInput gives one tile per input channel of
/// each filter (rows are filters). Auto: Rgb for 3 input channels, Mean otherwise.
enum class FilterChannels { Auto, Rgb, Mean, PerInput };
/// Per filter: each tile stretched to its own min..max; per layer: one range for all tiles,
/// so the tiles' contrasts compare.
enum class FilterNormalisation { PerFilter, PerLayer };

struct FilterImages {
    std::string layer;
    int filters = 0;
    int inputChannels = 0;
    int kernelHeight = 0, kernelWidth = 0;
    int columns = 0;              ///< tiles per row of the grid (inputChannels for PerInput)
    std::vector<RgbImage> tiles;  ///< kernel-sized, row by row
};

/// Gradient ascent on the input (the Keras blog "How convolutional neural networks see the
/// world"): from a grey image with a little noise, step along the L2-normalised gradient of
/// the filter's mean activation. Jitter, blur and octaves are optional regularisers.
struct MaximizeOptions {
    int steps = 20;
    float stepSize = 1.0f;  ///< RMS change per step in the network's input units
    int jitter = 0;         ///< random shift of up to this many pixels before each step
    int blurEvery = 0;      ///< Gaussian blur every N steps; 0: never
    float blurSigma = 0.5f;
    int octaves = 1;  ///< > 1: start smaller and upscale by octaveScale between octaves
    float octaveScale = 1.4f;
    int size = 0;  ///< picture size; 0: the model's input size (always so for dense layers)
    std::uint64_t seed = 1;
};

struct FilterPicture {
    int filter = -1;
    RgbImage image;
    float startActivation = 0;  ///< mean activation for the starting grey image
    float finalActivation = 0;  ///< after the last step
};

/// One layer's activations for one image, channel-major [channels][height][width].
struct FeatureMaps {
    std::string layer;
    int channels = 0, height = 0, width = 0;
    std::vector<float> values;
    float minValue = 0, maxValue = 0;
};

/// CAM: the class's dense weights applied to the feature maps a global-average-pooling head
/// pools (Zhou et al. 2016). Grad-CAM: the maps weighted by their spatially averaged
/// gradients of the class score, then ReLU (Selvaraju et al. 2017); works for any network.
enum class CamMethod { Cam, GradCam };

struct ClassActivation {
    CamMethod method = CamMethod::Cam;
    std::string featureLayer;
    int classIndex = -1;
    std::vector<float> probabilities;
    int mapWidth = 0, mapHeight = 0;
    std::vector<float> map;  ///< raw values at the feature maps' resolution, row-major
    int imageWidth = 0, imageHeight = 0;
    std::vector<float> heat;   ///< the map upsampled to the image, scaled to 0..1 (min..max)
    int peakX = 0, peakY = 0;  ///< the heat's maximum, image pixels
    /// The paper's box: threshold at 20% of the maximum, largest connected component;
    /// inclusive corners in image pixels.
    int boxX0 = 0, boxY0 = 0, boxX1 = 0, boxY1 = 0;
};

/// A layer the inspector can show.
struct InspectableLayer {
    std::string name;
    std::string kind;
    std::vector<std::int64_t> outputShape;  ///< channels first, no batch dimension
    bool hasKernels = false;                ///< a conv layer with a weight grid
    bool spatial = false;                   ///< 3-D output: feature maps can be shown
};

using InspectProgress = std::function<void(int done, int total)>;

/// Looks inside a trained network: its filters, what they respond to, feature maps and
/// class activation maps. Works on its own copy of the weights, so it can run beside
/// training. One Inspector is used by one thread at a time. Errors: convscope::Error.
class Inspector {
public:
    /// Loads a weight file as Predictor does (metadata from the file, else `fallback`; Keras
    /// conv kernels read in `layout`).
    explicit Inspector(const std::string& weightsPath,
                       const std::optional<WeightsMetadata>& fallback = {},
                       KernelLayout layout = KernelLayout::Auto);
    /// Inspects a copy of an in-memory model.
    Inspector(const std::shared_ptr<ClassifierImpl>& model, const WeightsMetadata& metadata);
    ~Inspector();
    Inspector(Inspector&&) noexcept;

    /// Computes on `device` from now on (the CPU until called); pictures and maps come back
    /// the same. Returns the device in words; throws convscope::Error when it cannot be had.
    std::string setDevice(const DeviceChoice& device);

    const WeightsMetadata& metadata() const;
    std::vector<InspectableLayer> layers();

    FilterImages filterWeights(const std::string& layer,
                               FilterChannels channels = FilterChannels::Auto,
                               FilterNormalisation normalisation = FilterNormalisation::PerFilter);

    /// Number of filters (conv) or units (dense) of a layer.
    int filterCount(const std::string& layer);

    /// Returns nothing when cancelled.
    std::optional<FilterPicture> maximizeFilter(const std::string& layer, int filter,
                                                const MaximizeOptions& options,
                                                const std::atomic<bool>* cancel = nullptr,
                                                const InspectProgress& progress = {});
    /// Every filter of the layer (or the first `limit` when > 0), sorted by the activation
    /// reached, highest first. Returns what was done so far when cancelled.
    std::vector<FilterPicture> maximizeLayer(const std::string& layer,
                                             const MaximizeOptions& options, int limit = 0,
                                             const std::atomic<bool>* cancel = nullptr,
                                             const InspectProgress& progress = {});

    FeatureMaps featureMaps(const RgbImage& image, const std::string& layer);

    /// classIndex < 0: the predicted class. layer empty: the maps the head pools (CAM) or the
    /// last spatial layer (Grad-CAM). CAM on a network without a GAP head is an error.
    ClassActivation classActivation(const RgbImage& image, int classIndex = -1,
                                    CamMethod method = CamMethod::Cam,
                                    const std::string& layer = {});

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

}  // namespace convscope
