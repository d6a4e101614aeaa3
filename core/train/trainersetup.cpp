#include "train/trainerimpl.h"

#include "data/imagecache.h"
#include "data/reportjson.h"
#include "error.h"
#include "io/modelweights.h"
#include "io/pretrained.h"
#include "runtime.h"
#include "train/checkpoint.h"
#include "train/optimization.h"
#include "train/runfolder.h"
#include "util/atomicfile.h"

namespace convscope {

void Trainer::Impl::prepareRunFolder() {
    TrainConfig& c = config;
    validateTrainConfig(c);
    // Settled before anything is written: asking for a GPU that is not there leaves no run.
    configureThreads(c.threads);
    resolved = resolveDevice(deviceForRank(c), c.precision);
    c.deviceUsed = deviceName(resolved.device);
    c.precisionUsed = precisionName(resolved.precision);
    device = torchDevice(resolved.device);
    runDir = fs::absolute(c.runDir).lexically_normal();
    checkpointPath = (runDir / "checkpoint.pt").string();
    // The starting weights bring their flavour and preprocessing; both go into config.json
    // and the weights' metadata, so that predict prepares images the same way. A resumed
    // run has them in its config.json already.
    if (!resumeRun)
        adoptStartingWeights(c);
    checkModelSettings(c);  // after a Keras backbone has set the flavour (its layer names)
    if (writes() && fs::is_directory(runDir))
        if (const int stale = removeStaleTemporaryFiles(runDir.string()))
            observer->onMessage("Removed " + std::to_string(stale) +
                                " temporary files left by a write that was killed");
    // config.json records absolute paths, so that the run folder resolves from itself.
    c.runDir = runDir.string();
    c.dataDir = fs::absolute(c.dataDir).lexically_normal().string();
    if (resumeRun) {
        if (!fs::exists(checkpointPath))
            throw Error(c.runDir,
                        "nothing to resume (no checkpoint.pt: the first epoch never finished); "
                        "start it again with the same data and --out");
        return;  // status.json is written once the data's classes are checked (loadData)
    }
    if (fs::exists(runDir / "config.json") && fs::exists(checkpointPath))
        throw Error(c.runDir,
                    "already holds a run (resume it with --resume, or choose another --out)");
    // A run that stopped before its first checkpoint has nothing to resume: it starts again
    // in the same folder (config.json is rewritten below).
    if (!writes())
        return;  // rank 0 makes the folder and writes every file of the run
    if (fs::exists(runDir / "config.json"))
        observer->onMessage(c.runDir +
                            ": its earlier run stopped before its first checkpoint; starting "
                            "again");
    fs::create_directories(runDir);
    writeConfig();
    status.start(runDir.string());
}

void Trainer::Impl::writeConfig() const {
    writeTextFileAtomically((runDir / "config.json").string(), toJson(config));
}

std::optional<Trainer::Impl::RunData> Trainer::Impl::loadData() {
    TrainConfig& c = config;
    ScanOptions scan;
    scan.validationFraction = c.validationFraction;
    scan.seed = c.seed;
    scan.cancel = &cancelled;
    scan.progress = [&](std::size_t d, std::size_t t) {
        observer->onProgress(Phase::Scanning, d, t);
    };
    RunData data;
    const auto scanStart = Clock::now();
    try {
        data.index = std::make_unique<DatasetIndex>(DatasetIndex::scan(c.dataDir, scan));
    } catch (const Error&) {
        if (!cancelled)
            throw;
        return std::nullopt;  // cancelled while scanning: not an error
    }
    stages.scan = secondsSince(scanStart);
    DatasetIndex& index = *data.index;  // the cache records decode failures in it
    if (index.classNames().size() < 2)
        throw Error(c.dataDir, "a classifier needs at least two classes");
    if (resumeRun) {
        checkSameClasses(runDir.string(), c.dataDir, index.classNames());
        // What this session uses (a batch size chosen at resume, the device found now),
        // written once the data has been checked.
        if (writes()) {
            writeConfig();
            status.start(runDir.string());
        }
    }

    CacheOptions cacheOptions;
    cacheOptions.width = cacheOptions.height = c.model.inputSize;
    cacheOptions.memoryBudgetBytes = c.cacheBudgetBytes;
    cacheOptions.storeDirectory = c.decodedStore;
    const auto decodeStart = Clock::now();
    data.cache = std::make_unique<ImageCache>(index, cacheOptions);
    data.cache->decodeAll(&cancelled, [&](std::size_t d, std::size_t t) {
        observer->onProgress(Phase::Decoding, d, t);
    });
    stages.decode = secondsSince(decodeStart);
    if (!c.decodedStore.empty() && !cancelled)
        observer->onMessage(storeUseText(data.cache->storeUse()));
    if (writes())
        writeTextFileAtomically((runDir / "import-report.json").string(),
                                datasetSummaryJson(index));
    if (cancelled)
        return std::nullopt;
    data.train = index.indices(Split::Train);
    data.validation = index.indices(Split::Validation);
    if (data.train.empty())
        throw Error(c.dataDir, "no training images");
    observer->onMessage(std::to_string(index.classNames().size()) + " classes, " +
                        std::to_string(data.train.size()) + " training and " +
                        std::to_string(data.validation.size()) + " validation images, " +
                        std::to_string(index.report().skipped.size()) + " skipped");
    return data;
}

Trainer::Impl::Session Trainer::Impl::buildSession(const RunData& data) {
    TrainConfig& c = config;
    c.model.classCount = int(data.index->classNames().size());
    torch::manual_seed(c.seed);
    Session s;
    s.model = makeClassifier(c.model);
    s.metadata = {c.model, data.index->classNames(), c.preprocessing};
    if (!c.initialWeights.empty()) {
        const PretrainedLoad loaded =
            loadPretrainedWeights(c.initialWeights, *s.model, c.initialKernelLayout);
        if (!loaded.description.empty())
            observer->onMessage(loaded.description + ", preprocessing '" + c.preprocessing.name +
                                "': " + describe(loaded.report));
        else
            observer->onMessage(std::string("Starting from ") + weightsFormatName(loaded.format) +
                                " " + c.initialWeights + " (preprocessing " + c.preprocessing.name +
                                "): " + describe(loaded.report));
    }
    if (!c.freezeUpTo.empty())
        s.model->freezeUpTo(c.freezeUpTo);
    s.model->setBatchNormInference(c.batchNormInference);
    if (c.bottleneck)
        observer->onMessage("Bottleneck features: training the head only (frozen up to " +
                            freezeForBottleneck(*s.model, c.freezeUpTo) + ")");

    s.model->to(device);
    if (device.is_cuda())
        at::globalContext().setBenchmarkCuDNN(true);
    observer->onMessage("Device " + resolved.description + ", precision " +
                        precisionName(resolved.precision) +
                        (c.precision == Precision::Auto ? " (auto)" : ""));
    observer->onDeviceChosen(resolved.description, precisionName(resolved.precision));
    if (c.batchSize == 0) {
        // --batch auto: the largest power of two that fits (on the CPU, 32).
        c.batchSize = device.is_cuda()
                          ? largestFittingBatch(*s.model, 4096, c.model.inputSize, device,
                                                resolved.precision, c.channelsLast)
                          : 32;
        if (c.batchSize == 0)
            throw Error(resolved.description, "not even a batch of one image fits in memory");
        observer->onMessage("Batch size " + std::to_string(c.batchSize) + " (auto)");
        if (writes())
            writeConfig();
    }
    if (c.channelsLast) {
        torch::NoGradGuard noGrad;
        for (auto& p : s.model->parameters())
            if (p.dim() == 4)
                p.set_data(p.data().contiguous(torch::MemoryFormat::ChannelsLast));
    }
    for (auto& p : s.model->parameters())
        if (p.requires_grad())
            s.trainable.push_back(p);
    if (s.trainable.empty())
        throw Error(c.freezeUpTo, "every layer is frozen: nothing to train");
    if (parallel) {
        // Every rank starts from rank 0's weights; gradients are averaged from here on.
        parallel->attach(s.model->parameters(), s.model->buffers());
        const int world = c.distributed.worldSize;
        observer->onMessage("Global batch " + std::to_string(world * c.batchSize) + " (" +
                            std::to_string(world) + (world == 1 ? " process x " : " processes x ") +
                            std::to_string(c.batchSize) + ")");
    }
    s.optimizer = makeOptimizer(c, s.trainable);
    s.scaler = LossScaler(resolved.precision == Precision::Fp16);

    s.loaderOptions.batchSize = c.batchSize;
    s.loaderOptions.seed = c.seed;
    s.loaderOptions.workers = c.loaderWorkers;
    s.loaderOptions.channelsLast = c.channelsLast;
    s.loaderOptions.augment = c.augment;
    s.loaderOptions.pinMemory = device.is_cuda();
    s.loaderOptions.preprocessing = c.preprocessing;
    s.loaderOptions.shardCount = c.distributed.worldSize;
    s.loaderOptions.shardIndex = c.distributed.rank;
    s.loaderOptions.padShards = true;  // every rank takes as many steps
    s.trainLoader =
        std::make_unique<BatchLoader>(*data.cache, data.train, c.augmentation, s.loaderOptions);
    LoaderOptions vo = s.loaderOptions;
    vo.augment = false;
    vo.shuffle = false;
    vo.padShards = false;  // each validation image counted once; the sums are reduced
    s.validationLoader =
        std::make_unique<BatchLoader>(*data.cache, data.validation, AugmentParams{}, vo);
    resetPeakDeviceMemory(device);
    return s;
}

bool Trainer::Impl::prepareBottleneck(Session& s, const RunData& data) {
    s.features = prepareBottleneckFeatures(*s.model, *data.cache, config, s.loaderOptions, device,
                                           cancelled, *observer, parallel.get());
    if (!s.features)
        return false;
    // Data-parallel: the same shards as the image loaders (training padded, validation not).
    const Shard shard{config.distributed.worldSize, config.distributed.rank, true};
    s.features->validation = rowsOf(s.features->validation, shard);
    s.featureBatches.emplace(s.features->train, config.batchSize, config.seed, shard);
    return true;
}

void Trainer::Impl::setActiveLoader(BatchLoader* loader) {
    std::lock_guard lock(mutex);
    activeLoader = loader;
}

}  // namespace convscope
