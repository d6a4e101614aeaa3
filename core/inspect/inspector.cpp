#include "inspect/inspector.h"

#include "error.h"
#include "inspect/activationmax.h"
#include "inspect/modelinput.h"
#include "models/classifier.h"
#include "train/precision.h"

#include <opencv2/imgproc.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <map>
#include <set>

namespace convscope {

namespace nn = torch::nn;

namespace {

/// Filters per gradient-ascent batch: enough to use the cores, small enough for big layers.
constexpr int kMaximizeBatch = 16;

/// The conv whose kernels a layer shows: the layer itself, or the conv that opens a
/// conv-BN-activation group (MobileNetV2's features.0 and features.18).
nn::Conv2dImpl* kernelsOf(ClassifierImpl& model, const std::string& layer) {
    for (const auto& item : model.named_modules("", false)) {
        if (item.key() != layer)
            continue;
        if (auto* conv = dynamic_cast<nn::Conv2dImpl*>(item.value().get()))
            return conv;
        if (dynamic_cast<nn::SequentialImpl*>(item.value().get())) {
            for (const auto& child : item.value()->named_children())
                if (child.key() == "0")
                    return dynamic_cast<nn::Conv2dImpl*>(child.value().get());
        }
        return nullptr;
    }
    return nullptr;
}

/// The classifier's last linear layer: the dense weights CAM applies.
nn::LinearImpl* lastLinear(ClassifierImpl& model) {
    nn::LinearImpl* last = nullptr;
    for (const auto& item : model.named_modules("", false))
        if (auto* linear = dynamic_cast<nn::LinearImpl*>(item.value().get()))
            last = linear;
    return last;
}

RgbImage tileFromChw(const torch::Tensor& chw, float lo, float hi) {
    const float scale = hi > lo ? 255.0f / (hi - lo) : 0.0f;
    const torch::Tensor bytes = ((chw - lo) * scale)
                                    .clamp(0, 255)
                                    .round()
                                    .to(torch::kUInt8)
                                    .permute({1, 2, 0})
                                    .expand({chw.size(1), chw.size(2), 3})
                                    .contiguous();
    RgbImage tile;
    tile.height = int(bytes.size(0));
    tile.width = int(bytes.size(1));
    tile.pixels.assign(bytes.data_ptr<std::uint8_t>(),
                       bytes.data_ptr<std::uint8_t>() + bytes.numel());
    return tile;
}

std::vector<float> toVector(const torch::Tensor& t) {
    const torch::Tensor c = t.detach().to(torch::kCPU, torch::kFloat32).contiguous();
    return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

}  // namespace

struct Inspector::Impl {
    WeightsMetadata metadata;
    Classifier model;
    std::vector<InspectableLayer> layers;
    std::set<std::string> preActivated;  ///< layers that also report their pre-activation
    torch::Device device{torch::kCPU};

    void prepare() {
        model->eval();
        for (auto& p : model->parameters())
            p.set_requires_grad(false);
        for (const LayerInfo& info : model->summary()) {
            InspectableLayer l;
            l.name = info.name;
            l.kind = info.kind;
            l.outputShape = info.outputShape;
            l.spatial = info.outputShape.size() == 3;
            l.hasKernels = kernelsOf(*model, info.name) != nullptr;
            layers.push_back(l);
        }
        model->setPreActivationTaps(true);
        const LayerTap tap = [&](const std::string& name, const torch::Tensor&) {
            const std::string suffix = ClassifierImpl::kPreActivationSuffix;
            if (name.size() > suffix.size() &&
                name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
                preActivated.insert(name.substr(0, name.size() - suffix.size()));
        };
        torch::NoGradGuard noGrad;
        const int s = metadata.model.inputSize;
        model->forward(torch::zeros({1, 3, s, s}), &tap);
    }

    std::string objectiveLayer(const std::string& layer) const {
        return preActivated.count(layer) ? layer + ClassifierImpl::kPreActivationSuffix : layer;
    }

    const InspectableLayer& layer(const std::string& name) const {
        for (const auto& l : layers)
            if (l.name == name)
                return l;
        throw Error(name, "no such layer in this model (see `convscope summary`)");
    }

    std::map<std::string, double> strides;  ///< effective stride of a layer, in input pixels

    /// The layer's stride: how many input pixels one step of its map covers. Measured from
    /// its map size at two input sizes, so it holds for any architecture.
    double stride(const std::string& layer) {
        if (const auto it = strides.find(layer); it != strides.end())
            return it->second;
        torch::NoGradGuard noGrad;
        const int s = metadata.model.inputSize;
        const auto on = torch::TensorOptions(device);
        const std::int64_t h0 = layerOutput(*model, torch::zeros({1, 3, s, s}, on), layer).size(2);
        std::int64_t h1 = h0;
        try {
            h1 = layerOutput(*model, torch::zeros({1, 3, s + 128, s + 128}, on), layer).size(2);
        } catch (const Error&) {
            // A network built for one input size (a Keras model config): the ratio of sizes.
        }
        const double stride = h1 > h0 ? 128.0 / double(h1 - h0) : double(s) / double(h0);
        strides[layer] = stride;
        return stride;
    }

    /// Resamples a layer's map [h, w] onto the image's pixels. Each map cell sits at the
    /// centre of its receptive field: the maps of valid convolutions cover less than the
    /// whole input, so stretching the map edge to edge would put peaks off by up to a cell.
    torch::Tensor toImage(const torch::Tensor& map, const std::string& layer, int width,
                          int height) {
        const double s = metadata.model.inputSize, step = stride(layer);
        auto coords = [&](int pixels, std::int64_t cells) {
            // Image pixel centre -> model input position -> map cell -> grid_sample's -1..1.
            const torch::Tensor p = (torch::arange(pixels, torch::kFloat64) + 0.5) * s / pixels;
            const torch::Tensor cell = (p - s / 2) / step + double(cells - 1) / 2;
            return (cells > 1 ? cell * 2 / double(cells - 1) - 1 : torch::zeros_like(cell))
                .to(torch::kFloat32);
        };
        const torch::Tensor gx = coords(width, map.size(1)), gy = coords(height, map.size(0));
        const torch::Tensor grid = torch::stack({gx.view({1, -1}).expand({height, width}),
                                                 gy.view({-1, 1}).expand({height, width})},
                                                2)
                                       .unsqueeze(0);
        return torch::nn::functional::grid_sample(map.view({1, 1, map.size(0), map.size(1)}), grid,
                                                  torch::nn::functional::GridSampleFuncOptions()
                                                      .mode(torch::kBilinear)
                                                      .padding_mode(torch::kBorder)
                                                      .align_corners(true))[0][0]
            .contiguous();
    }

    torch::Tensor input(const RgbImage& image) const {
        return pixelsToInput(imageToPixels(image, metadata.model.inputSize).to(device),
                             metadata.preprocessing);
    }
};

Inspector::Inspector(const std::string& weightsPath, const std::optional<WeightsMetadata>& fallback,
                     KernelLayout layout)
    : m_impl(std::make_unique<Impl>()) {
    atBoundary(weightsPath, [&] {
        m_impl->model = loadForInference(weightsPath, fallback, m_impl->metadata, nullptr, layout);
        m_impl->prepare();
    });
}

Inspector::Inspector(const std::shared_ptr<ClassifierImpl>& model, const WeightsMetadata& metadata)
    : m_impl(std::make_unique<Impl>()) {
    m_impl->metadata = metadata;
    m_impl->model = cloneClassifier(model);
    m_impl->prepare();
}

Inspector::~Inspector() = default;
Inspector::Inspector(Inspector&&) noexcept = default;

std::string Inspector::setDevice(const DeviceChoice& device) {
    return atBoundary("device", [&] {
        // Inspection stays in float32: activation maximization follows small gradients.
        const ResolvedDevice resolved = resolveDevice(device, Precision::Fp32);
        m_impl->device = torchDevice(resolved.device);
        m_impl->model->to(m_impl->device);
        m_impl->strides.clear();
        return resolved.description;
    });
}

const WeightsMetadata& Inspector::metadata() const {
    return m_impl->metadata;
}

std::vector<InspectableLayer> Inspector::layers() {
    return m_impl->layers;
}

int Inspector::filterCount(const std::string& layer) {
    return atBoundary(layer, [&] {
        const auto& shape = m_impl->layer(layer).outputShape;
        return shape.empty() ? 0 : int(shape[0]);
    });
}

FilterImages Inspector::filterWeights(const std::string& layer, FilterChannels channels,
                                      FilterNormalisation normalisation) {
    return atBoundary(layer, [&] {
        m_impl->layer(layer);
        nn::Conv2dImpl* conv = kernelsOf(*m_impl->model, layer);
        if (!conv)
            throw Error(layer, "has no convolution kernels to show");
        const torch::Tensor w =
            conv->weight.detach().to(torch::kCPU, torch::kFloat32).contiguous();  // F,C,kh,kw
        FilterImages out;
        out.layer = layer;
        out.filters = int(w.size(0));
        out.inputChannels = int(w.size(1));
        out.kernelHeight = int(w.size(2));
        out.kernelWidth = int(w.size(3));
        if (channels == FilterChannels::Auto)
            channels = out.inputChannels == 3 ? FilterChannels::Rgb : FilterChannels::Mean;
        if (channels == FilterChannels::Rgb && out.inputChannels != 3)
            throw Error(layer,
                        "has " + std::to_string(out.inputChannels) +
                            " input channels: RGB needs 3 (show them averaged or per channel)");
        // What each tile shows, [tiles, 1 or 3, kh, kw].
        torch::Tensor shown;
        if (channels == FilterChannels::Rgb)
            shown = w;
        else if (channels == FilterChannels::Mean)
            shown = w.mean(1, true);
        else
            shown = w.reshape({-1, 1, w.size(2), w.size(3)});
        out.columns = channels == FilterChannels::PerInput
                          ? out.inputChannels
                          : int(std::ceil(std::sqrt(double(out.filters))));
        const float layerLo = shown.min().item<float>(), layerHi = shown.max().item<float>();
        for (std::int64_t i = 0; i < shown.size(0); ++i) {
            const torch::Tensor tile = shown[i];
            const bool perFilter = normalisation == FilterNormalisation::PerFilter;
            out.tiles.push_back(tileFromChw(tile, perFilter ? tile.min().item<float>() : layerLo,
                                            perFilter ? tile.max().item<float>() : layerHi));
        }
        return out;
    });
}

std::optional<FilterPicture> Inspector::maximizeFilter(const std::string& layer, int filter,
                                                       const MaximizeOptions& options,
                                                       const std::atomic<bool>* cancel,
                                                       const InspectProgress& progress) {
    return atBoundary(layer, [&]() -> std::optional<FilterPicture> {
        const InspectableLayer& l = m_impl->layer(layer);
        if (filter < 0 || filter >= filterCount(layer))
            throw Error(layer, "has no filter " + std::to_string(filter));
        const bool free = l.spatial && options.size > 0;
        const int size = free ? options.size : m_impl->metadata.model.inputSize;
        const int total = maximizeSteps(options, l.spatial);
        auto pictures = maximizeFilters(*m_impl->model, m_impl->metadata.preprocessing, layer,
                                        m_impl->objectiveLayer(layer), {filter}, options, size,
                                        l.spatial, cancel, progress, 0, total);
        if (!pictures)
            return std::nullopt;
        return pictures->front();
    });
}

std::vector<FilterPicture> Inspector::maximizeLayer(const std::string& layer,
                                                    const MaximizeOptions& options, int limit,
                                                    const std::atomic<bool>* cancel,
                                                    const InspectProgress& progress) {
    return atBoundary(layer, [&] {
        const InspectableLayer& l = m_impl->layer(layer);
        int count = filterCount(layer);
        if (limit > 0)
            count = std::min(count, limit);
        const int size =
            l.spatial && options.size > 0 ? options.size : m_impl->metadata.model.inputSize;
        const int perBatch = maximizeSteps(options, l.spatial);
        const int batches = (count + kMaximizeBatch - 1) / kMaximizeBatch;
        std::vector<FilterPicture> all;
        for (int b = 0; b < batches; ++b) {
            std::vector<int> filters;
            for (int f = b * kMaximizeBatch; f < std::min(count, (b + 1) * kMaximizeBatch); ++f)
                filters.push_back(f);
            auto pictures =
                maximizeFilters(*m_impl->model, m_impl->metadata.preprocessing, layer,
                                m_impl->objectiveLayer(layer), filters, options, size, l.spatial,
                                cancel, progress, b * perBatch, batches * perBatch);
            if (!pictures)
                break;
            for (auto& p : *pictures)
                all.push_back(std::move(p));
        }
        std::stable_sort(all.begin(), all.end(),
                         [](const FilterPicture& a, const FilterPicture& b) {
                             return a.finalActivation > b.finalActivation;
                         });
        return all;
    });
}

FeatureMaps Inspector::featureMaps(const RgbImage& image, const std::string& layer) {
    return atBoundary(layer, [&] {
        const InspectableLayer& l = m_impl->layer(layer);
        if (!l.spatial)
            throw Error(layer, "has no feature maps (it is not a convolutional layer's output)");
        torch::InferenceMode inference;
        const torch::Tensor act = layerOutput(*m_impl->model, m_impl->input(image), layer)[0];
        FeatureMaps maps;
        maps.layer = layer;
        maps.channels = int(act.size(0));
        maps.height = int(act.size(1));
        maps.width = int(act.size(2));
        maps.values = toVector(act);
        const auto [lo, hi] = std::minmax_element(maps.values.begin(), maps.values.end());
        maps.minValue = *lo;
        maps.maxValue = *hi;
        return maps;
    });
}

ClassActivation Inspector::classActivation(const RgbImage& image, int classIndex, CamMethod method,
                                           const std::string& layer) {
    return atBoundary("class activation", [&] {
        ClassifierImpl& model = *m_impl->model;
        const bool gapHead = model.config().head == Head::GlobalAveragePool;
        if (method == CamMethod::Cam && !gapHead)
            throw Error("CAM", "needs a network with a global-average-pooling head; use Grad-CAM");
        if (classIndex >= model.config().classCount)
            throw Error(
                "class " + std::to_string(classIndex),
                "the model has only " + std::to_string(model.config().classCount) + " classes");
        // The feature layer: the one asked for, else the last spatial output before the head's
        // first flat one (what GAP pools, or what the flatten head reads).
        std::string target = layer;
        if (target.empty()) {
            for (const auto& l : m_impl->layers) {
                if (!l.spatial)
                    break;
                target = l.name;
            }
        } else if (!m_impl->layer(target).spatial) {
            throw Error(target, "has no feature maps for a class activation map");
        }
        if (target.empty())
            throw Error("model", "has no spatial layer for a class activation map");

        torch::Tensor input = m_impl->input(image);
        if (method == CamMethod::GradCam)
            input.requires_grad_(true);
        torch::Tensor features;
        const LayerTap tap = [&](const std::string& name, const torch::Tensor& t) {
            if (name == target)
                features = t;
        };
        torch::Tensor logits;
        {
            std::optional<torch::NoGradGuard> noGrad;
            if (method == CamMethod::Cam)
                noGrad.emplace();
            logits = model.forward(input, &tap);
        }
        ClassActivation out;
        out.method = method;
        out.featureLayer = target;
        out.probabilities = toVector(torch::softmax(logits.detach(), 1)[0]);
        out.classIndex =
            classIndex >= 0 ? classIndex : int(logits[0].argmax().item<std::int64_t>());

        torch::Tensor map;  // [h, w]
        if (method == CamMethod::Cam) {
            nn::LinearImpl* dense = lastLinear(model);
            if (!dense || dense->weight.size(1) != features.size(1))
                throw Error(target,
                            "its channels do not feed the last dense layer directly: "
                            "CAM needs GAP then one dense layer; use Grad-CAM");
            const torch::Tensor w = dense->weight[out.classIndex].detach();
            map = (features[0] * w.view({-1, 1, 1})).sum(0);
        } else {
            const torch::Tensor grad =
                torch::autograd::grad({logits[0][out.classIndex]}, {features})[0];
            const torch::Tensor alpha = grad[0].mean({1, 2});
            map = torch::relu((features[0].detach() * alpha.view({-1, 1, 1})).sum(0));
        }
        map = map.detach().to(torch::kCPU).contiguous();
        out.mapHeight = int(map.size(0));
        out.mapWidth = int(map.size(1));
        out.map = toVector(map);

        out.imageWidth = image.width;
        out.imageHeight = image.height;
        const torch::Tensor up = m_impl->toImage(map, target, image.width, image.height);
        const float lo = up.min().item<float>(), hi = up.max().item<float>();
        out.heat = toVector(hi > lo ? (up - lo) / (hi - lo) : torch::zeros_like(up));
        const std::int64_t peak = up.argmax().item<std::int64_t>();
        out.peakX = int(peak % image.width);
        out.peakY = int(peak / image.width);

        // The paper's box: 20% of the maximum, the largest 8-connected component.
        const cv::Mat heat(image.height, image.width, CV_32F,
                           const_cast<float*>(up.data_ptr<float>()));
        cv::Mat mask = heat >= (hi > 0 ? 0.2f * hi : hi);
        cv::Mat labels, stats, centroids;
        const int n = cv::connectedComponentsWithStats(mask, labels, stats, centroids, 8);
        int best = -1;
        for (int i = 1; i < n; ++i)
            if (best < 0 ||
                stats.at<int>(i, cv::CC_STAT_AREA) > stats.at<int>(best, cv::CC_STAT_AREA))
                best = i;
        if (best > 0) {
            out.boxX0 = stats.at<int>(best, cv::CC_STAT_LEFT);
            out.boxY0 = stats.at<int>(best, cv::CC_STAT_TOP);
            out.boxX1 = out.boxX0 + stats.at<int>(best, cv::CC_STAT_WIDTH) - 1;
            out.boxY1 = out.boxY0 + stats.at<int>(best, cv::CC_STAT_HEIGHT) - 1;
        } else {
            out.boxX1 = image.width - 1;
            out.boxY1 = image.height - 1;
        }
        return out;
    });
}

}  // namespace convscope
