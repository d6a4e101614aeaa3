#include "cli/args.h"
#include "cli/augmentoptions.h"
#include "cli/commands.h"
#include "cli/interruptwatcher.h"
#include "cli/modeloptions.h"
#include "cli/progressprinter.h"
#include "cli/trainoptions.h"

#include "error.h"
#include "io/weightsfile.h"
#include "models/kerasforms.h"
#include "train/runcatalog.h"
#include "train/trainer.h"

#include <cstdio>

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
                                  "resume"};
    options.insert(augmentOptionNames().begin(), augmentOptionNames().end());
    return options;
}

std::set<std::string> trainFlagNames() {
    std::set<std::string> flags{"nesterov", "no-augment", "nchw", "json", "bottleneck"};
    flags.insert(augmentFlagNames().begin(), augmentFlagNames().end());
    return flags;
}

int trainCommand(const std::vector<std::string>& argv) {
    const Args args(argv, trainOptionNames(), trainFlagNames());

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
    ProgressPrinter printer(
        args.flag("json") ? ProgressPrinter::Style::Json : ProgressPrinter::Style::Auto,
        config.epochs);
    Trainer trainer(config, &printer, resumeDir.has_value());
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
        std::fprintf(
            stderr,
            "Cancelled after %d completed epochs; resume with: convscope train --resume %s\n",
            result.epochsCompleted, config.runDir.c_str());
        return 130;
    }
    return 0;
}

}  // namespace convscope::cli
