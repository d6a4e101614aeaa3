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

EvaluationTally::EvaluationTally(int classCount) {
    const auto classes = std::size_t(classCount);
    m_evaluation.confusion.assign(classes, std::vector<std::int64_t>(classes, 0));
}

void EvaluationTally::add(const torch::Tensor& logits, const torch::Tensor& labels) {
    m_lossSum += torch::nn::functional::cross_entropy(
                     logits, labels.to(logits.device()),
                     torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
                     .item<double>();
    const torch::Tensor predicted = logits.argmax(1).to(torch::kCPU).contiguous();
    const torch::Tensor truth = labels.contiguous();
    const auto* p = predicted.data_ptr<std::int64_t>();
    const auto* t = truth.data_ptr<std::int64_t>();
    Evaluation& e = m_evaluation;
    for (std::int64_t i = 0; i < predicted.size(0); ++i) {
        ++e.confusion[std::size_t(t[i])][std::size_t(p[i])];
        e.predictions.push_back(int(p[i]));
        e.truths.push_back(int(t[i]));
    }
    e.samples += predicted.size(0);
}

Evaluation EvaluationTally::finish() {
    Evaluation e = std::move(m_evaluation);
    e.loss = e.samples ? m_lossSum / double(e.samples) : 0.0;
    return e;
}

Evaluation evaluateModel(ClassifierImpl& model, BatchLoader& loader, const torch::Device& device,
                         bool channelsLast, const std::atomic<bool>* cancel) {
    EvaluationTally tally(model.config().classCount);
    std::vector<std::size_t> sampleIndices;
    const bool wasTraining = model.is_training();
    model.eval();
    torch::NoGradGuard noGrad;
    loader.startEpoch(0);
    while (auto batch = loader.next()) {
        if (cancel && cancel->load()) {
            loader.stop();
            break;
        }
        if (batch->labels.size(0) == 0)
            continue;
        torch::Tensor x = batch->images.to(device);
        if (channelsLast)
            x = x.contiguous(torch::MemoryFormat::ChannelsLast);
        tally.add(model.forward(x), batch->labels);
        sampleIndices.insert(sampleIndices.end(), batch->samples.begin(), batch->samples.end());
    }
    model.train(wasTraining);
    Evaluation e = tally.finish();
    e.sampleIndices = std::move(sampleIndices);
    return e;
}

}  // namespace convscope
