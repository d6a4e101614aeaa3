#include "train/bottleneck.h"

#include "dist/dataparallel.h"
#include "error.h"
#include "io/kerasweights.h"
#include "models/finetuning.h"
#include "train/evaluator.h"
#include "util/random.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <chrono>
#include <cstdio>
#include <filesystem>

namespace convscope {

namespace fs = std::filesystem;

namespace {

/// FNV-1a, 64 bits: a digest for telling inputs apart, not for security.
class Digest {
public:
    void add(const void* data, std::size_t size) {
        const auto* bytes = static_cast<const unsigned char*>(data);
        for (std::size_t i = 0; i < size; ++i) {
            m_hash ^= bytes[i];
            m_hash *= 0x100000001b3ull;
        }
    }
    void add(const std::string& text) {
        add(text.data(), text.size());
        add(std::uint64_t(text.size()));
    }
    template <typename T>
    void add(T value) {
        static_assert(std::is_arithmetic_v<T>);
        add(&value, sizeof value);
    }
    void add(const torch::Tensor& t) {
        const torch::Tensor c = t.detach().to(torch::kCPU).contiguous();
        add(c.data_ptr(), c.nbytes());
        for (const auto size : c.sizes())
            add(std::int64_t(size));
    }
    std::string hex() const {
        char buf[17];
        std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(m_hash));
        return buf;
    }

private:
    std::uint64_t m_hash = 0xcbf29ce484222325ull;
};

bool inLayer(const std::string& name, const std::string& layer) {
    return name == layer ||
           (name.size() > layer.size() && name.compare(0, layer.size(), layer) == 0 &&
            name[layer.size()] == '.');
}

constexpr const char* kBackboneKey = "bottleneck_backbone";
constexpr const char* kDataKey = "bottleneck_data";

void appendSplit(KerasWeightsFile& file, const std::string& name, const FeatureSet& set) {
    LayerWeights layer;
    layer.name = name;
    const torch::Tensor f = set.features.to(torch::kFloat).contiguous();
    const torch::Tensor l = set.labels.to(torch::kFloat).contiguous();
    WeightArray features;
    features.name = "features:0";
    features.shape = {f.size(0), f.size(1)};
    features.values.assign(f.data_ptr<float>(), f.data_ptr<float>() + f.numel());
    WeightArray labels;
    labels.name = "labels:0";
    labels.shape = {l.size(0)};
    labels.values.assign(l.data_ptr<float>(), l.data_ptr<float>() + l.numel());
    layer.weights = {std::move(features), std::move(labels)};
    file.layers.push_back(std::move(layer));
}

FeatureSet readSplit(const KerasWeightsFile& file, const std::string& name,
                     const std::string& path) {
    for (const LayerWeights& layer : file.layers) {
        if (layer.name != name || layer.weights.size() != 2)
            continue;
        const WeightArray& f = layer.weights[0];
        const WeightArray& l = layer.weights[1];
        if (f.shape.size() != 2 || l.shape.size() != 1 || f.shape[0] != l.shape[0])
            break;
        FeatureSet set;
        set.features = torch::from_blob(const_cast<float*>(f.values.data()),
                                        {f.shape[0], f.shape[1]}, torch::kFloat)
                           .clone();
        set.labels =
            torch::from_blob(const_cast<float*>(l.values.data()), {l.shape[0]}, torch::kFloat)
                .to(torch::kLong);
        return set;
    }
    throw Error(path, "no well-formed '" + name + "' features");
}

}  // namespace

BottleneckKey bottleneckKey(ClassifierImpl& model, const DatasetIndex& index,
                            const Preprocessing& preprocessing) {
    Digest backbone;
    const ModelConfig& m = model.config();
    backbone.add(std::string(architectureName(m.architecture)));
    backbone.add(std::string(headName(m.head)));
    backbone.add(m.inputSize);
    backbone.add(preprocessing.rescale);
    for (float v : preprocessing.mean)
        backbone.add(v);
    for (float v : preprocessing.stddev)
        backbone.add(v);
    backbone.add(int(preprocessing.bgr));
    std::vector<std::string> layers;
    const std::string end = backboneOutputLayer(m);
    for (const std::string& name : model.layerNames()) {
        layers.push_back(name);
        if (name == end)
            break;
    }
    auto addIfBackbone = [&](const std::string& name, const torch::Tensor& t) {
        for (const std::string& layer : layers) {
            if (inLayer(name, layer)) {
                backbone.add(name);
                backbone.add(t);
                return;
            }
        }
    };
    torch::NoGradGuard noGrad;
    for (const auto& p : model.named_parameters(true))
        addIfBackbone(p.key(), p.value());
    for (const auto& b : model.named_buffers(true))
        addIfBackbone(b.key(), b.value());

    Digest data;
    for (Split split : {Split::Train, Split::Validation}) {
        for (std::size_t i : index.indices(split)) {
            const Sample& s = index.samples()[i];
            std::error_code error;
            const auto size = fs::file_size(s.path, error);
            const auto time = fs::last_write_time(s.path, error).time_since_epoch().count();
            data.add(s.path);
            data.add(std::uint64_t(error ? 0 : size));
            data.add(std::int64_t(error ? 0 : time));
            data.add(s.label);
            data.add(int(split));
        }
    }
    return {backbone.hex(), data.hex()};
}

std::optional<BottleneckFeatures> loadBottleneckFeatures(const std::string& path,
                                                         const BottleneckKey& key,
                                                         std::string* why) {
    auto stale = [&](const std::string& reason) -> std::optional<BottleneckFeatures> {
        if (why)
            *why = reason;
        return std::nullopt;
    };
    if (!fs::exists(path))
        return stale("no cached features yet");
    try {
        const KerasWeightsFile file = readKerasWeights(path);
        const auto backbone = file.metadata.find(kBackboneKey);
        const auto data = file.metadata.find(kDataKey);
        if (backbone == file.metadata.end() || data == file.metadata.end())
            return stale("the cache file has no key");
        if (backbone->second != key.backbone)
            return stale(
                "the backbone (weights, architecture, input size or preprocessing) "
                "changed");
        if (data->second != key.data)
            return stale("the data set changed");
        BottleneckFeatures features;
        features.train = readSplit(file, "train", path);
        features.validation = readSplit(file, "validation", path);
        return features;
    } catch (const Error& e) {
        return stale(std::string("the cache file is unreadable (") + e.what() + ")");
    }
}

void saveBottleneckFeatures(const std::string& path, const BottleneckFeatures& features,
                            const BottleneckKey& key) {
    KerasWeightsFile file;
    appendSplit(file, "train", features.train);
    appendSplit(file, "validation", features.validation);
    file.metadata[kBackboneKey] = key.backbone;
    file.metadata[kDataKey] = key.data;
    writeKerasWeights(path, file);
}

std::optional<FeatureSet> computeFeatures(ClassifierImpl& model, BatchLoader& loader,
                                          const torch::Device& device,
                                          const std::atomic<bool>* cancel,
                                          const std::function<void(std::size_t)>& progress) {
    const bool wasTraining = model.is_training();
    model.eval();
    torch::NoGradGuard noGrad;
    std::vector<torch::Tensor> features, labels;
    std::size_t done = 0;
    loader.startEpoch(0);
    while (auto batch = loader.next()) {
        if (cancel && cancel->load()) {
            loader.stop();
            model.train(wasTraining);
            return std::nullopt;
        }
        features.push_back(model.forwardFeatures(batch->images.to(device)).to(torch::kCPU));
        labels.push_back(batch->labels);
        done += batch->samples.size();
        if (progress)
            progress(done);
    }
    model.train(wasTraining);
    if (cancel && cancel->load())
        return std::nullopt;
    FeatureSet set;
    if (features.empty()) {
        set.features = torch::zeros({0, 0});
        set.labels = torch::zeros({0}, torch::kLong);
    } else {
        set.features = torch::cat(features).contiguous();
        set.labels = torch::cat(labels);
    }
    return set;
}

FeatureBatches::FeatureBatches(const FeatureSet& set, int batchSize, std::uint64_t seed,
                               Shard shard)
    : m_set(set), m_batchSize(batchSize), m_seed(seed), m_shard(shard) {
    if (batchSize <= 0)
        throw Error("bottleneck features", "batch size must be positive");
}

std::int64_t FeatureBatches::batchesPerEpoch() const {
    const auto rows = std::int64_t(m_shard.length(std::size_t(m_set.features.size(0))));
    return (rows + m_batchSize - 1) / m_batchSize;
}

void FeatureBatches::startEpoch(int epoch) {
    m_order.resize(std::size_t(m_set.features.size(0)));
    for (std::size_t i = 0; i < m_order.size(); ++i)
        m_order[i] = std::int64_t(i);
    Rng rng(mixSeed(m_seed, std::uint64_t(epoch), 0xb0771e));
    rng.shuffle(m_order);
    m_order = m_shard.of(m_order);
    m_next = 0;
}

std::optional<Batch> FeatureBatches::next() {
    const auto n = std::int64_t(m_order.size());
    const std::int64_t first = m_next * m_batchSize;
    if (first >= n)
        return std::nullopt;
    const std::int64_t count = std::min(m_batchSize, n - first);
    const torch::Tensor rows =
        torch::from_blob(m_order.data() + first, {count}, torch::kLong).clone();
    Batch b;
    b.images = m_set.features.index_select(0, rows);
    b.labels = m_set.labels.index_select(0, rows);
    b.samples.assign(m_order.begin() + first, m_order.begin() + first + count);
    b.index = m_next++;
    return b;
}

namespace {

std::vector<std::int64_t> rowNumbers(std::size_t count, Shard shard) {
    std::vector<std::int64_t> all(count);
    std::iota(all.begin(), all.end(), std::int64_t(0));
    shard.pad = false;
    return shard.of(all);
}

/// Every rank's rows (`mine`, its shard of `count` samples) in one set on every rank.
FeatureSet gatherRows(const FeatureSet& mine, std::size_t count, Shard shard,
                      DataParallel& parallel) {
    const bool has = mine.features.size(0) > 0;
    const std::vector<double> width =
        parallel.sum({has ? double(mine.features.size(1)) : 0.0, has ? 1.0 : 0.0});
    FeatureSet all;
    all.features = torch::zeros(
        {std::int64_t(count), width[1] > 0 ? std::int64_t(std::lround(width[0] / width[1])) : 0});
    all.labels = torch::zeros({std::int64_t(count)}, torch::kLong);
    if (has) {
        const torch::Tensor at = torch::tensor(rowNumbers(count, shard), torch::kLong);
        all.features.index_copy_(0, at, mine.features.to(torch::kFloat32));
        all.labels.index_copy_(0, at, mine.labels);
    }
    parallel.sumInPlace(all.features);
    parallel.sumInPlace(all.labels);
    return all;
}

}  // namespace

FeatureSet rowsOf(const FeatureSet& set, Shard shard) {
    if (shard.count <= 1)
        return set;
    const torch::Tensor rows =
        torch::tensor(rowNumbers(std::size_t(set.features.size(0)), shard), torch::kLong);
    return {set.features.index_select(0, rows), set.labels.index_select(0, rows)};
}

std::string freezeForBottleneck(ClassifierImpl& model, const std::string& requested) {
    const std::string end = backboneOutputLayer(model.config());
    const auto names = model.layerNames();
    const auto position = [&](const std::string& name) {
        return std::size_t(std::find(names.begin(), names.end(), name) - names.begin());
    };
    const bool furtherOn = !requested.empty() && position(requested) < names.size() &&
                           position(requested) > position(end);
    const std::string point = furtherOn ? requested : end;
    model.freezeUpTo(point);
    return point;
}

std::optional<BottleneckFeatures> prepareBottleneckFeatures(
    ClassifierImpl& model, const ImageCache& cache, const TrainConfig& config, LoaderOptions loader,
    const torch::Device& device, const std::atomic<bool>& cancel, TrainingObserver& observer,
    DataParallel* parallel) {
    const std::string path = config.featuresCache.empty()
                                 ? (fs::path(config.runDir) / "bottleneck-features.h5").string()
                                 : config.featuresCache;
    if (config.augment)
        observer.onMessage(
            "Augmentation is off: bottleneck features are computed once, so "
            "augmentation cannot apply");
    const DatasetIndex& index = cache.index();
    const BottleneckKey key = bottleneckKey(model, index, config.preprocessing);
    std::string why;
    std::optional<BottleneckFeatures> cached = loadBottleneckFeatures(path, key, &why);
    // Every rank uses the cache, or none does: the ranks compute the features together.
    if (parallel && parallel->any(!cached) && cached) {
        cached.reset();
        why = "another rank cannot read them";
    }
    if (cached) {
        observer.onMessage("Reusing the bottleneck features in " + path);
        return cached;
    }
    observer.onMessage("Computing bottleneck features (" + why + ")");
    const auto start = std::chrono::steady_clock::now();
    loader.augment = false;
    loader.shuffle = false;
    const Shard shard{parallel ? config.distributed.worldSize : 1,
                      parallel ? config.distributed.rank : 0, false};
    loader.shardCount = shard.count;
    loader.shardIndex = shard.index;
    loader.padShards = false;
    const auto train = index.indices(Split::Train);
    const auto validation = index.indices(Split::Validation);
    // Progress counts this rank's images (its shard's).
    const std::size_t mine = shard.length(train.size()) + shard.length(validation.size());
    BottleneckFeatures features;
    std::size_t offset = 0;
    for (auto [samples, into] :
         {std::pair{&train, &features.train}, std::pair{&validation, &features.validation}}) {
        BatchLoader batches(cache, *samples, AugmentParams{}, loader);
        // Each rank computes its whole shard: the ranks agree on a cancel after it.
        auto set = computeFeatures(
            model, batches, device, parallel ? nullptr : &cancel,
            [&](std::size_t done) { observer.onProgress(Phase::Features, offset + done, mine); });
        if (!set)
            return std::nullopt;
        *into = parallel ? gatherRows(*set, samples->size(), shard, *parallel) : std::move(*set);
        offset += shard.length(samples->size());
    }
    if (parallel && parallel->any(cancel))
        return std::nullopt;
    const std::size_t total = train.size() + validation.size();
    if (config.distributed.writes())
        saveBottleneckFeatures(path, features, key);
    char done[160];
    std::snprintf(done, sizeof done,
                  "Bottleneck features of %zu images (%lld values each) in %.2f s", total,
                  static_cast<long long>(features.train.features.size(1)),
                  std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    observer.onMessage(done);
    return features;
}

Evaluation evaluateHead(ClassifierImpl& model, const FeatureSet& set, int batchSize,
                        const torch::Device& device, const std::atomic<bool>* cancel) {
    EvaluationTally tally(model.config().classCount);
    const bool wasTraining = model.is_training();
    model.eval();
    torch::NoGradGuard noGrad;
    const std::int64_t n = set.features.size(0);
    for (std::int64_t first = 0; first < n; first += batchSize) {
        if (cancel && cancel->load())
            break;
        const std::int64_t count = std::min<std::int64_t>(batchSize, n - first);
        tally.add(model.forwardHead(set.features.narrow(0, first, count).to(device)),
                  set.labels.narrow(0, first, count));
    }
    model.train(wasTraining);
    return tally.finish();
}

}  // namespace convscope
