#pragma once

#include "train/batchloader.h"
#include "data/datasetindex.h"
#include "models/classifier.h"
#include "train/evaluation.h"
#include "train/shard.h"
#include "train/trainconfig.h"
#include "train/trainingobserver.h"

#include <torch/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace convscope {

class DataParallel;

/// Backbone outputs of one split; row i belongs to the i-th sample the loader gave.
struct FeatureSet {
    torch::Tensor features;  ///< float [N, D], CPU
    torch::Tensor labels;    ///< int64 [N], CPU
};

struct BottleneckFeatures {
    FeatureSet train;
    FeatureSet validation;
};

/// What cached features depend on, as hex digests. backbone: architecture, head, input size,
/// preprocessing and the bytes of every parameter and buffer up to backboneOutputLayer();
/// data: each usable sample's path, file size, modification time, label and split.
struct BottleneckKey {
    std::string backbone;
    std::string data;
    bool operator==(const BottleneckKey& o) const {
        return backbone == o.backbone && data == o.data;
    }
};

/// Computes the key of `model` (weights loaded) over the usable samples of `index`.
BottleneckKey bottleneckKey(ClassifierImpl& model, const DatasetIndex& index,
                            const Preprocessing& preprocessing);

/// The cached features of `path` when the file exists and was written under `key`; otherwise
/// nothing, and `why` (when given) says what differs: no file, another backbone, other data,
/// or an unreadable file (which is then simply recomputed). Never throws for a stale file.
std::optional<BottleneckFeatures> loadBottleneckFeatures(const std::string& path,
                                                         const BottleneckKey& key,
                                                         std::string* why = nullptr);

/// Writes the features with their key atomically, in the HDF5 layout of weight files: groups
/// "train" and "validation", each with "features:0" [N, D] and "labels:0" [N]; the key in the
/// root attributes convscope_bottleneck_backbone and convscope_bottleneck_data.
/// Throws convscope::Error naming the file.
void saveBottleneckFeatures(const std::string& path, const BottleneckFeatures& features,
                            const BottleneckKey& key);

/// Runs model.forwardFeatures() in eval mode without gradients over one epoch of `loader`
/// (which should neither augment nor shuffle). `progress` gets the images done so far.
/// Returns nothing when cancelled.
std::optional<FeatureSet> computeFeatures(ClassifierImpl& model, BatchLoader& loader,
                                          const torch::Device& device,
                                          const std::atomic<bool>* cancel = nullptr,
                                          const std::function<void(std::size_t)>& progress = {});

/// Batches of feature rows, shuffled per epoch by (seed, epoch): the bottleneck counterpart of
/// BatchLoader, synchronous (the rows are in memory). Batch::images holds [B, D] features.
class FeatureBatches {
public:
    /// With a data-parallel `shard`, each epoch hands out that shard of the shuffled order.
    FeatureBatches(const FeatureSet& set, int batchSize, std::uint64_t seed, Shard shard = {});

    std::int64_t batchesPerEpoch() const;
    void startEpoch(int epoch);
    std::optional<Batch> next();

private:
    const FeatureSet& m_set;
    std::int64_t m_batchSize;
    std::uint64_t m_seed;
    Shard m_shard;
    std::vector<std::int64_t> m_order;
    std::int64_t m_next = 0;
};

/// The rows of `set` that `shard` takes (in order, each once: `shard.pad` is ignored).
FeatureSet rowsOf(const FeatureSet& set, Shard shard);

/// Freezes `model` up to its backbone output, or up to `requested` when that lies further
/// on (bottleneck training never changes the backbone). Returns the layer frozen up to.
std::string freezeForBottleneck(ClassifierImpl& model, const std::string& requested);

/// The bottleneck features of a run: read from the cache file (config.featuresCache, else
/// <runDir>/bottleneck-features.h5) when its key matches `model` and the cached samples, else
/// computed with `loader` settings (augmentation and shuffling off) and written there. Says
/// which through `observer` (messages, Phase::Features progress). Nothing when cancelled.
/// Throws convscope::Error when the cache cannot be written.
/// With `parallel`, a collective: the cache is used only when every rank can read it; else
/// each rank runs the backbone over its shard of the images and the rows are summed into
/// every rank's copy. Rank 0 alone writes the cache.
std::optional<BottleneckFeatures> prepareBottleneckFeatures(
    ClassifierImpl& model, const ImageCache& cache, const TrainConfig& config, LoaderOptions loader,
    const torch::Device& device, const std::atomic<bool>& cancel, TrainingObserver& observer,
    DataParallel* parallel = nullptr);

/// Loss and confusion of model.forwardHead() over `set`, in eval mode without gradients.
Evaluation evaluateHead(ClassifierImpl& model, const FeatureSet& set, int batchSize,
                        const torch::Device& device, const std::atomic<bool>* cancel = nullptr);

}  // namespace convscope
