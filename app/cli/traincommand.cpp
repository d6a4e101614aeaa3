#include "cli/args.h"
#include "cli/launcher.h"
#include "cli/augmentoptions.h"
#include "cli/commands.h"
#include "cli/interruptwatcher.h"
#include "cli/modeloptions.h"
#include "cli/progressprinter.h"
#include "cli/trainoptions.h"

#include "data/decodedstore.h"
#include "dist/distsetup.h"
#include "error.h"
#include "io/weightsfile.h"
#include "models/kerasforms.h"
#include "train/runcatalog.h"
#include "train/trainer.h"

#include <algorithm>
#include <cstdio>
#include <thread>

namespace convscope::cli {

int batchSizeFromArgs(const Args& args, int fallback) {
    if (args.text("batch", "") == "auto")
        return 0;
    const long long batch = args.integer("batch", fallback);
    if (batch < 1 || batch > 1 << 20)
        throw UsageError("--batch must be a positive number or auto");
    return int(batch);
}

TrainConfig trainConfigFromArgs(const Args& args) {
    if (args.positionals().size() != 1)
        throw UsageError("give one data folder");
    TrainConfig c;
    c.dataDir = args.positionals()[0];
    const auto out = args.value("out");
    const auto workspace = args.value("workspace");
    if (out && workspace)
        throw UsageError("give --out RUN_DIR or --workspace DIR, not both");
    // Without --out the run gets a new time-stamped folder in the workspace, as in the window.
    c.runDir = out ? *out : newRunFolder(workspace ? *workspace : defaultWorkspace());
    networkFromArgs(args, c.model, 150);
    c.model.head = parseHead(args.text("head", "flatten"));
    c.model.dropout = args.number("dropout", 0.5);
    c.epochs = int(args.integer("epochs", 10));
    c.batchSize = batchSizeFromArgs(args, 32);
    c.optimizer = parseOptimizer(args.text("optimizer", "adam"));
    c.learningRate = args.number("lr", c.optimizer == OptimizerKind::Sgd ? 0.01 : 1e-3);
    c.momentum = args.number("momentum", 0.9);
    c.nesterov = args.flag("nesterov");
    c.weightDecay = args.number("weight-decay", 0);
    c.schedule = parseSchedule(args.text("schedule", "constant"));
    c.stepEpochs = int(args.integer("step-epochs", 10));
    c.stepGamma = args.number("gamma", 0.1);
    c.plateauPatience = int(args.integer("plateau-patience", 2));
    c.plateauFactor = args.number("plateau-factor", 0.1);
    c.earlyStoppingPatience = int(args.integer("early-stopping", 0));
    c.seed = std::uint64_t(args.integer("seed", 1337));
    c.device = deviceFromArgs(args);
    c.precision = parsePrecision(args.text("precision", "auto"));
    c.validationFraction = args.number("val-fraction", 0.2);
    c.augmentation = augmentParamsFromArgs(args);
    c.augment = !args.flag("no-augment");
    // Keras's rescale=1./255; weights that carry their own preprocessing replace it.
    c.preprocessing.rescale = float(args.number("rescale", 1.0 / 255.0));
    validatePreprocessing(c.preprocessing, "--rescale");
    c.channelsLast = !args.flag("nchw");
    c.threads = int(args.integer("threads", 0));
    c.loaderWorkers = int(args.integer("workers", 0));
    c.initialWeights = args.text("weights", "");
    c.initialKernelLayout = kernelLayoutFromArgs(args);
    if (args.value("kernel-layout") && c.initialWeights.empty())
        throw UsageError("--kernel-layout says how to read --weights; give --weights too");
    c.freezeUpTo = args.text("freeze-up-to", "");
    c.model.flavour = parseFlavour(args.text("flavour", "standard"));
    if (!c.initialWeights.empty()) {
        const WeightsFile origin =
            WeightsFile::open(c.initialWeights, WeightsFile::Contents::Metadata);
        // Without --arch, the architecture of the weights to start from (a .pth's from its
        // keys, a Keras backbone's from its layers).
        if (!args.value("arch") && origin.metadata()) {
            const ModelConfig& from = origin.metadata()->model;
            c.model.architecture = from.architecture;
            // A Keras network's weights bring its topology (and the surgery made on it).
            c.model.kerasModel = from.kerasModel;
            if (c.model.cutAfter.empty() && c.model.append.empty()) {
                c.model.cutAfter = from.cutAfter;
                c.model.append = from.append;
            }
        }
        // A TF.js backbone names its input size; the command line may still choose another
        // (the backbone is convolutional).
        if ((origin.format() == WeightsFormat::KerasBackbone ||
             origin.format() == WeightsFormat::KerasModel) &&
            !args.value("size") && origin.statedInputSize() > 0)
            c.model.inputSize = origin.statedInputSize();
    }
    // Surgery on a built-in network works on its Keras form (same layers, names, weights).
    if ((!c.model.cutAfter.empty() || !c.model.append.empty()) &&
        c.model.architecture != Architecture::Keras)
        c.model = asKerasNetwork(c.model);
    c.model.batchNormMomentum = args.number("bn-momentum", 0);
    if (args.value("bn-momentum") &&
        (c.model.batchNormMomentum <= 0 || c.model.batchNormMomentum >= 1))
        throw UsageError("--bn-momentum must be in (0, 1), in Keras's terms (e.g. 0.99)");
    c.bottleneck = args.flag("bottleneck");
    c.featuresCache = args.text("features-cache", "");
    if (c.model.inputSize < 8)
        throw UsageError("--size must be at least 8");
    if (c.validationFraction < 0 || c.validationFraction >= 1)
        throw UsageError("--val-fraction must be in [0, 1)");
    return c;
}

std::set<std::string> trainOptionNames() {
    std::set<std::string> options{"out",
                                  "workspace",
                                  "arch",
                                  "cut-after",
                                  "append",
                                  "head",
                                  "size",
                                  "dropout",
                                  "epochs",
                                  "batch",
                                  "optimizer",
                                  "lr",
                                  "momentum",
                                  "bn-momentum",
                                  "weight-decay",
                                  "schedule",
                                  "step-epochs",
                                  "gamma",
                                  "plateau-patience",
                                  "plateau-factor",
                                  "early-stopping",
                                  "seed",
                                  "device",
                                  "precision",
                                  "val-fraction",
                                  "threads",
                                  "workers",
                                  "weights",
                                  "kernel-layout",
                                  "freeze-up-to",
                                  "flavour",
                                  "features-cache",
                                  "rescale",
                                  "resume",
                                  "nproc-per-node",
                                  "nnodes",
                                  "node-rank",
                                  "master-addr",
                                  "master-port",
                                  "dist-timeout"};
    options.insert(augmentOptionNames().begin(), augmentOptionNames().end());
    return options;
}

std::string decodedStoreFromArgs(const Args& args) {
    return args.flag("no-disk-cache") ? std::string() : DecodedStore::defaultDirectory();
}

std::set<std::string> trainFlagNames() {
    std::set<std::string> flags{"nesterov", "no-augment", "nchw",
                                "json",     "bottleneck", "no-disk-cache"};
    flags.insert(augmentFlagNames().begin(), augmentFlagNames().end());
    return flags;
}

namespace {

const char* const kLaunchOptions[] = {"nproc-per-node", "nnodes", "node-rank", "master-addr",
                                      "master-port"};

}  // namespace

int launchDataParallel(const std::string& commandName, const std::vector<std::string>& argv,
                       const Args& args) {
    LaunchOptions o;
    o.processesPerNode = int(args.integer("nproc-per-node", 1));
    o.nodes = int(args.integer("nnodes", 1));
    o.nodeRank = int(args.integer("node-rank", 0));
    o.masterAddress = args.text("master-addr", "");
    o.masterPort = int(args.integer("master-port", 0));
    o.timeoutSeconds = int(args.integer("dist-timeout", 60));
    if (o.processesPerNode < 1 || o.nodes < 1 || o.nodeRank < 0 || o.nodeRank >= o.nodes)
        throw UsageError(
            "--nproc-per-node and --nnodes must be at least 1, --node-rank below "
            "--nnodes");
    if (o.masterPort < 0 || o.masterPort > 65535 || o.timeoutSeconds < 1)
        throw UsageError("--master-port must be 1 to 65535, --dist-timeout at least 1 second");
    std::vector<std::string> command{commandName};
    for (std::size_t i = 0; i < argv.size(); ++i) {
        bool launchOption = false;
        for (const char* name : kLaunchOptions)
            if (argv[i] == std::string("--") + name ||
                argv[i].rfind(std::string("--") + name + "=", 0) == 0)
                launchOption = true;
        if (launchOption) {
            if (argv[i].find('=') == std::string::npos)
                ++i;  // its value
            continue;
        }
        command.push_back(argv[i]);
    }
    if (!args.value("out") && !args.value("resume")) {
        // Every worker must write into the same folder: chosen once, here.
        const auto workspace = args.value("workspace");
        const std::string out = newRunFolder(workspace ? *workspace : defaultWorkspace());
        std::fprintf(stderr, "Run folder: %s\n", out.c_str());
        std::vector<std::string> kept;
        for (std::size_t i = 0; i < command.size(); ++i) {
            if (command[i] == "--workspace") {
                ++i;
                continue;
            }
            kept.push_back(command[i]);
        }
        command = kept;
        command.insert(command.end(), {"--out", out});
    }
    return launchWorkers(command, o);
}

std::optional<DistributedSetup> joinDataParallel(const Args& args, TrainConfig& config) {
    std::optional<DistributedSetup> distributed = distributedSetupFromEnvironment();
    if (!distributed)
        return distributed;
    if (args.value("dist-timeout"))
        distributed->timeoutSeconds = int(args.integer("dist-timeout", 60));
    if (!args.value("resume") && !args.value("out"))
        throw UsageError("a data-parallel worker needs --out RUN_DIR, the same on every rank");
    config.distributed = *distributed;
    // The machine's cores are shared by its processes.
    if (config.threads == 0)
        config.threads =
            std::max(1, int(std::thread::hardware_concurrency()) / distributed->localWorldSize);
    return distributed;
}

int trainCommand(const std::vector<std::string>& argv) {
    const Args args(argv, trainOptionNames(), trainFlagNames());
    if (args.value("nproc-per-node"))
        return launchDataParallel("train", argv, args);

    const auto resumeDir = args.value("resume");
    TrainConfig config;
    if (resumeDir) {
        if (!args.positionals().empty())
            throw UsageError("--resume takes the run directory, no data folder");
        config = Trainer::resumeConfig(*resumeDir);
        // A batch that no longer fits (out of memory) may be changed when resuming.
        if (args.value("batch"))
            config.batchSize = batchSizeFromArgs(args, config.batchSize);
    } else {
        config = trainConfigFromArgs(args);
        if (!args.value("out"))
            std::fprintf(stderr, "Run folder: %s\n", config.runDir.c_str());
    }
    config.decodedStore = decodedStoreFromArgs(args);
    const std::optional<DistributedSetup> distributed = joinDataParallel(args, config);
    ProgressPrinter printer(
        args.flag("json") ? ProgressPrinter::Style::Json : ProgressPrinter::Style::Auto,
        config.epochs);
    // Rank 0 reports; the other ranks say only what goes wrong (on stderr, as errors).
    const bool reports = !distributed || distributed->rank == 0;
    Trainer trainer(config, reports ? &printer : nullptr, resumeDir.has_value());
    TrainingResult result;
    try {
        // First Ctrl-C: stop after the current batch (the last checkpoint stays). Second: quit.
        const InterruptWatcher interrupts([&trainer] { trainer.cancel(); });
        result = trainer.run();
    } catch (const OutOfMemory& e) {
        std::fprintf(stderr, "convscope train: %s\n", e.what());
        if (e.largestBatch() > 0)
            std::fprintf(stderr, "Continue with: convscope train --resume %s --batch %d\n",
                         config.runDir.c_str(), e.largestBatch());
        return 1;
    }
    if (result.cancelled) {
        if (reports)  // rank 0 speaks for a data-parallel run
            std::fprintf(
                stderr,
                "Cancelled after %d completed epochs; resume with: convscope train --resume %s%s\n",
                result.epochsCompleted, config.runDir.c_str(),
                distributed ? " [--nproc-per-node N]" : "");
        return 130;
    }
    return 0;
}

}  // namespace convscope::cli
