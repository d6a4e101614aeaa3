#include "train/evaluation.h"
#include "train/evaluator.h"

#include <torch/torch.h>

namespace convscope {

double Evaluation::accuracy() const {
    std::int64_t right = 0, total = 0;
    for (std::size_t t = 0; t < confusion.size(); ++t)
        for (std::size_t p = 0; p < confusion[t].size(); ++p) {
            total += confusion[t][p];
            if (t == p)
                right += confusion[t][p];
        }
    return total ? double(right) / double(total) : 0.0;
}

double Evaluation::precision(int label) const {
    std::int64_t predicted = 0;
    for (const auto& row : confusion)
        predicted += row.at(std::size_t(label));
    return predicted ? double(confusion[std::size_t(label)][std::size_t(label)]) / double(predicted)
                     : 0.0;
}

double Evaluation::recall(int label) const {
    std::int64_t actual = 0;
    for (std::int64_t n : confusion.at(std::size_t(label)))
        actual += n;
    return actual ? double(confusion[std::size_t(label)][std::size_t(label)]) / double(actual)
                  : 0.0;
}

void applyPreprocessing(const Preprocessing& p, LoaderOptions& loader, AugmentParams& augment) {
    for (std::size_t k = 0; k < 3; ++k) {
        loader.mean[k] = p.mean.at(k);
        loader.stddev[k] = p.stddev.at(k);
    }
    loader.bgr = p.bgr;
    augment.rescale = p.rescale;
}

Evaluation evaluateModel(ClassifierImpl& model, BatchLoader& loader, const torch::Device& device,
                         bool channelsLast, const std::atomic<bool>* cancel) {
    const auto classes = std::size_t(model.config().classCount);
    Evaluation e;
    e.confusion.assign(classes, std::vector<std::int64_t>(classes, 0));
    const bool wasTraining = model.is_training();
    model.eval();
    torch::NoGradGuard noGrad;
    double lossSum = 0;
    loader.startEpoch(0);
    while (auto batch = loader.next()) {
        if (cancel && cancel->load()) {
            loader.stop();
            break;
        }
        torch::Tensor x = batch->images.to(device);
        if (channelsLast)
            x = x.contiguous(torch::MemoryFormat::ChannelsLast);
        const torch::Tensor y = batch->labels.to(device);
        const torch::Tensor logits = model.forward(x);
        lossSum +=
            torch::nn::functional::cross_entropy(
                logits, y, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
                .item<double>();
        const torch::Tensor predicted = logits.argmax(1).to(torch::kCPU);
        const auto* p = predicted.data_ptr<std::int64_t>();
        const auto* t = batch->labels.data_ptr<std::int64_t>();
        for (std::int64_t i = 0; i < predicted.size(0); ++i) {
            ++e.confusion[std::size_t(t[i])][std::size_t(p[i])];
            e.predictions.push_back(int(p[i]));
            e.truths.push_back(int(t[i]));
        }
        e.sampleIndices.insert(e.sampleIndices.end(), batch->samples.begin(), batch->samples.end());
        e.samples += predicted.size(0);
    }
    e.loss = e.samples ? lossSum / double(e.samples) : 0.0;
    model.train(wasTraining);
    return e;
}

}  // namespace convscope
