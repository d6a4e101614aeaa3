#include "inspect/activationmax.h"

#include "error.h"
#include "inspect/modelinput.h"
#include "models/classifier.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <cmath>
#include <random>

namespace convscope {

namespace {

namespace F = torch::nn::functional;

/// Separable Gaussian blur per channel, edges replicated.
torch::Tensor gaussianBlur(const torch::Tensor& x, float sigma) {
    const int r = std::max(1, int(std::ceil(2 * sigma)));
    const torch::Tensor t = torch::arange(-r, r + 1, torch::TensorOptions(x.device()));
    torch::Tensor k = torch::exp(-t * t / (2 * sigma * sigma));
    k = k / k.sum();
    const std::int64_t c = x.size(1);
    const torch::Tensor kx = k.view({1, 1, 1, 2 * r + 1}).repeat({c, 1, 1, 1});
    const torch::Tensor ky = k.view({1, 1, 2 * r + 1, 1}).repeat({c, 1, 1, 1});
    torch::Tensor y = F::pad(x, F::PadFuncOptions({r, r, r, r}).mode(torch::kReplicate));
    const auto depthwise = [c](const torch::Tensor& in, const torch::Tensor& k) {
        return torch::conv2d(in, k, torch::Tensor(), torch::IntArrayRef{1}, torch::IntArrayRef{0},
                             torch::IntArrayRef{1}, c);
    };
    y = depthwise(y, kx);
    return depthwise(y, ky);
}

/// Mean activation of filter filters[b] for batch element b: [B].
torch::Tensor filterScores(const torch::Tensor& activations, const torch::Tensor& filterIndex) {
    const torch::Tensor perFilter =
        activations.dim() == 4 ? activations.mean({2, 3}) : activations.flatten(1);
    return perFilter.gather(1, filterIndex.view({-1, 1})).squeeze(1);
}

/// The blog's deprocess_image: centre, scale to std 0.1 around 0.5, clip, to bytes.
RgbImage deprocess(const torch::Tensor& chw) {
    torch::Tensor x = chw - chw.mean();
    x = x / (x.std() + 1e-5) * 0.1 + 0.5;
    x = (x.clamp(0, 1) * 255)
            .round()
            .to(torch::kCPU, torch::kUInt8)
            .permute({1, 2, 0})
            .contiguous();
    RgbImage image;
    image.height = int(x.size(0));
    image.width = int(x.size(1));
    image.pixels.assign(x.data_ptr<std::uint8_t>(), x.data_ptr<std::uint8_t>() + x.numel());
    return image;
}

std::vector<int> octaveSizes(const MaximizeOptions& o, int size, bool octavesAllowed) {
    const int octaves = octavesAllowed ? std::max(1, o.octaves) : 1;
    std::vector<int> sizes;
    for (int i = octaves - 1; i >= 0; --i)
        sizes.push_back(
            std::max(8, int(std::lround(size / std::pow(double(o.octaveScale), double(i))))));
    return sizes;
}

}  // namespace

int maximizeSteps(const MaximizeOptions& options, bool octavesAllowed) {
    return std::max(1, options.steps) * int(octaveSizes(options, 64, octavesAllowed).size());
}

std::optional<std::vector<FilterPicture>> maximizeFilters(
    ClassifierImpl& model, const Preprocessing& preprocessing, const std::string& layer,
    const std::string& objectiveLayer, const std::vector<int>& filters,
    const MaximizeOptions& options, int size, bool octavesAllowed, const std::atomic<bool>* cancel,
    const InspectProgress& progress, int doneBefore, int total) {
    const std::vector<int> sizes = octaveSizes(options, size, octavesAllowed);
    // The model's device (a GPU when the inspector was moved to one); starts stay seeded on
    // the CPU so a filter's picture does not depend on where it is computed.
    const torch::Device device = model.parameters().front().device();
    const torch::Tensor filterIndex =
        torch::tensor(std::vector<std::int64_t>(filters.begin(), filters.end()), torch::kLong)
            .to(device);
    // Each filter's start depends only on the seed and the filter: grey with a little noise.
    std::vector<torch::Tensor> starts;
    for (int f : filters) {
        auto gen = at::make_generator<at::CPUGeneratorImpl>(options.seed + std::uint64_t(f));
        starts.push_back(torch::rand({1, 3, sizes[0], sizes[0]}, gen) * 20 + 128);
    }
    // The ascent runs in the network's input units, as the blog's does (its VGG16 took
    // pixels minus the mean), so one step size suits every preprocessing.
    torch::Tensor image = pixelsToInput(torch::cat(starts).to(device), preprocessing);
    auto scores = [&](const torch::Tensor& input) {
        std::vector<torch::Tensor> outs = layerOutputs(model, input, {objectiveLayer, layer});
        return std::make_pair(filterScores(outs[0], filterIndex),
                              filterScores(outs[1], filterIndex));
    };
    torch::Tensor startScores;
    {
        torch::NoGradGuard noGrad;
        const torch::Tensor act = layerOutput(model, image, layer);
        if (act.size(1) <= filterIndex.max().item<std::int64_t>())
            throw Error(layer, "has " + std::to_string(act.size(1)) + " filters");
        startScores = filterScores(act, filterIndex);
    }
    std::mt19937_64 jitterRng(options.seed);
    std::uniform_int_distribution<int> shift(-options.jitter, options.jitter);
    int done = doneBefore;
    for (std::size_t o = 0; o < sizes.size(); ++o) {
        if (o > 0)
            image = F::interpolate(image, F::InterpolateFuncOptions()
                                              .size(std::vector<std::int64_t>{sizes[o], sizes[o]})
                                              .mode(torch::kBilinear)
                                              .align_corners(false));
        for (int step = 0; step < std::max(1, options.steps); ++step) {
            if (cancel && cancel->load())
                return std::nullopt;
            const int dy = options.jitter > 0 ? shift(jitterRng) : 0;
            const int dx = options.jitter > 0 ? shift(jitterRng) : 0;
            torch::Tensor x = (dx || dy) ? torch::roll(image, {dy, dx}, {2, 3}) : image;
            x = x.detach().requires_grad_(true);
            const torch::Tensor objective = scores(x).first.sum();
            const torch::Tensor grad = torch::autograd::grad({objective}, {x})[0];
            // L2 (RMS) normalisation per picture keeps the step size meaningful.
            const torch::Tensor rms = grad.pow(2).mean({1, 2, 3}, true).sqrt() + 1e-5;
            image = x.detach() + options.stepSize * grad / rms;
            if (dx || dy)
                image = torch::roll(image, {-dy, -dx}, {2, 3});
            if (options.blurEvery > 0 && (step + 1) % options.blurEvery == 0)
                image = gaussianBlur(image, options.blurSigma);
            if (progress)
                progress(++done, total);
        }
    }
    torch::Tensor finalScores;
    {
        torch::NoGradGuard noGrad;
        finalScores = scores(image).second;
    }
    std::vector<FilterPicture> pictures;
    for (std::size_t b = 0; b < filters.size(); ++b) {
        FilterPicture p;
        p.filter = filters[b];
        p.image = deprocess(inputToPixels(image, preprocessing)[std::int64_t(b)]);
        p.startActivation = startScores[std::int64_t(b)].item<float>();
        p.finalActivation = finalScores[std::int64_t(b)].item<float>();
        pictures.push_back(std::move(p));
    }
    return pictures;
}

}  // namespace convscope
