#include "inspect/predictor.h"

#include "train/batchloader.h"
#include "data/imagedecoder.h"
#include "error.h"
#include "inspect/modelinput.h"
#include "train/evaluator.h"
#include "train/precision.h"

#include <opencv2/core.hpp>
#include <torch/torch.h>

namespace convscope {

struct Predictor::Impl {
    WeightsMetadata metadata;
    Classifier model;
    LoadReport report;
    torch::Device device{torch::kCPU};
    Precision precision = Precision::Fp32;

    /// Logits [N, classes] (float, CPU) for float RGB pixels [N, 3, s, s] in 0..255.
    torch::Tensor logits(const torch::Tensor& pixels) {
        torch::InferenceMode inference;
        AutocastScope autocast(device, precision);
        const torch::Tensor x = pixelsToInput(pixels.to(device), metadata.preprocessing);
        return model->forward(x).to(torch::kCPU, torch::kFloat32).contiguous();
    }

    /// Fills the prediction's logits, probabilities and top class from row `row` of `logits`.
    static void fill(Prediction& p, const torch::Tensor& logits, std::int64_t row) {
        const torch::Tensor z = logits[row];
        const torch::Tensor probs = torch::softmax(z, 0).contiguous();
        p.logits.assign(z.data_ptr<float>(), z.data_ptr<float>() + z.numel());
        p.probabilities.assign(probs.data_ptr<float>(), probs.data_ptr<float>() + probs.numel());
        p.top = int(std::max_element(p.probabilities.begin(), p.probabilities.end()) -
                    p.probabilities.begin());
    }
};

Predictor::Predictor(const std::string& weightsPath, const std::optional<WeightsMetadata>& fallback,
                     KernelLayout layout)
    : m_impl(std::make_unique<Impl>()) {
    atBoundary(weightsPath, [&] {
        m_impl->model =
            loadForInference(weightsPath, fallback, m_impl->metadata, &m_impl->report, layout);
    });
}

Predictor::~Predictor() = default;

std::string Predictor::setDevice(const DeviceChoice& device, Precision precision) {
    return atBoundary("device", [&] {
        const ResolvedDevice resolved = resolveDevice(device, precision);
        m_impl->device = torchDevice(resolved.device);
        m_impl->precision = resolved.precision;
        m_impl->model->to(m_impl->device);
        return resolved.description + ", precision " + precisionName(resolved.precision);
    });
}
Predictor::Predictor(Predictor&&) noexcept = default;

const WeightsMetadata& Predictor::metadata() const {
    return m_impl->metadata;
}

const LoadReport& Predictor::loadReport() const {
    return m_impl->report;
}

std::vector<Prediction> Predictor::predictFiles(const std::vector<std::string>& paths,
                                                int batchSize) {
    return atBoundary("predict", [&] {
        std::vector<Prediction> out(paths.size());
        DecodeOptions decode;
        decode.width = decode.height = m_impl->metadata.model.inputSize;
        std::vector<cv::Mat> images;
        std::vector<std::size_t> slots;
        auto flush = [&] {
            if (images.empty())
                return;
            std::vector<torch::Tensor> pixels;
            for (cv::Mat& image : images) {
                if (!image.isContinuous())
                    image = image.clone();
                pixels.push_back(
                    torch::from_blob(image.data, {image.rows, image.cols, 3}, torch::kUInt8));
            }
            const torch::Tensor logits =
                m_impl->logits(torch::stack(pixels).to(torch::kFloat32).permute({0, 3, 1, 2}));
            for (std::size_t k = 0; k < slots.size(); ++k)
                Impl::fill(out[slots[k]], logits, std::int64_t(k));
            images.clear();
            slots.clear();
        };
        for (std::size_t i = 0; i < paths.size(); ++i) {
            out[i].path = paths[i];
            try {
                images.push_back(decodeImageFile(paths[i], decode));
                slots.push_back(i);
            } catch (const Error& e) {
                out[i].error = e.reason();
            }
            if (int(images.size()) >= batchSize)
                flush();
        }
        flush();
        return out;
    });
}

Prediction Predictor::predict(const RgbImage& image) {
    return atBoundary("predict", [&] {
        Prediction p;
        Impl::fill(p, m_impl->logits(imageToPixels(image, m_impl->metadata.model.inputSize)), 0);
        return p;
    });
}

Evaluation Predictor::evaluate(const std::string& dataDir, std::optional<Split> split,
                               double validationFraction, std::uint64_t seed, int batchSize,
                               const std::atomic<bool>* cancel) {
    return atBoundary(dataDir, [&] {
        const auto cancelled = [cancel] { return cancel && cancel->load(); };
        Evaluation stopped;
        stopped.cancelled = true;
        ScanOptions scan;
        scan.validationFraction = validationFraction;
        scan.seed = seed;
        scan.cancel = cancel;
        std::optional<DatasetIndex> scanned;
        try {
            scanned.emplace(DatasetIndex::scan(dataDir, scan));
        } catch (const Error&) {
            if (!cancelled())
                throw;
            return stopped;
        }
        DatasetIndex& index = *scanned;
        if (index.classNames() != m_impl->metadata.classNames) {
            std::string names;
            for (const auto& n : m_impl->metadata.classNames)
                names += (names.empty() ? "" : ", ") + n;
            throw Error(dataDir, "its classes differ from the model's (" + names + ")");
        }
        CacheOptions cacheOptions;
        cacheOptions.width = cacheOptions.height = m_impl->metadata.model.inputSize;
        ImageCache cache(index, cacheOptions);
        cache.decodeAll(cancel);
        if (cancelled())
            return stopped;
        std::vector<std::size_t> samples;
        if (split) {
            samples = index.indices(*split);
        } else {
            for (std::size_t i = 0; i < index.samples().size(); ++i)
                if (index.samples()[i].usable)
                    samples.push_back(i);
        }
        if (samples.empty())
            throw Error(dataDir, "no images to evaluate in that split");
        LoaderOptions lo;
        lo.batchSize = batchSize;
        lo.shuffle = false;
        lo.augment = false;
        lo.preprocessing = m_impl->metadata.preprocessing;
        lo.pinMemory = m_impl->device.is_cuda();
        BatchLoader loader(cache, samples, AugmentParams{}, lo);
        AutocastScope autocast(m_impl->device, m_impl->precision);
        Evaluation e = evaluateModel(*m_impl->model, loader, m_impl->device, false, cancel);
        e.cancelled = cancelled();
        for (std::size_t i : e.sampleIndices)
            e.samplePaths.push_back(index.samples()[i].path);
        return e;
    });
}

}  // namespace convscope
