#include "cli/args.h"
#include "cli/augmentoptions.h"
#include "cli/commands.h"
#include "cli/progressprinter.h"

#include "io/pretrained.h"
#include "train/trainer.h"

#include <csignal>
#include <cstdio>

namespace convscope::cli {

namespace {

Trainer* g_trainer = nullptr;

void onInterrupt(int) {
    // First Ctrl-C: stop after the current batch (the last checkpoint stays). Second: quit.
    if (g_trainer) {
        g_trainer->cancel();
        g_trainer = nullptr;
        std::signal(SIGINT, SIG_DFL);
    }
}

TrainConfig configFromArgs(const Args& args) {
    if (args.positionals().size() != 1)
        throw UsageError("train takes one data folder");
    TrainConfig c;
    c.dataDir = args.positionals()[0];
    const auto out = args.value("out");
    if (!out)
        throw UsageError("train needs --out RUN_DIR");
    c.runDir = *out;
    c.model.architecture = parseArchitecture(args.text("arch", "small"));
    c.model.head = parseHead(args.text("head", "flatten"));
    c.model.inputSize = int(args.integer("size", 150));
    c.model.dropout = args.number("dropout", 0.5);
    c.epochs = int(args.integer("epochs", 10));
    c.batchSize = int(args.integer("batch", 32));
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
    c.device = parseDevice(args.text("device", "auto"));
    c.validationFraction = args.number("val-fraction", 0.2);
    c.augmentation = augmentParamsFromArgs(args);
    c.augment = !args.flag("no-augment");
    c.channelsLast = !args.flag("nchw");
    c.threads = int(args.integer("threads", 0));
    c.loaderWorkers = int(args.integer("workers", 0));
    c.initialWeights = args.text("weights", "");
    // Without --arch, the architecture of the weights to start from (a .pth's from its keys).
    if (!args.value("arch") && !c.initialWeights.empty())
        if (const auto origin = readPretrainedMetadata(c.initialWeights))
            c.model.architecture = origin->model.architecture;
    c.freezeUpTo = args.text("freeze-up-to", "");
    if (c.model.inputSize < 8)
        throw UsageError("--size must be at least 8");
    if (c.validationFraction < 0 || c.validationFraction >= 1)
        throw UsageError("--val-fraction must be in [0, 1)");
    return c;
}

}  // namespace

int trainCommand(const std::vector<std::string>& argv) {
    std::set<std::string> options{"out",
                                  "arch",
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
                                  "val-fraction",
                                  "threads",
                                  "workers",
                                  "weights",
                                  "freeze-up-to",
                                  "resume"};
    options.insert(augmentOptionNames().begin(), augmentOptionNames().end());
    std::set<std::string> flags{"nesterov", "no-augment", "nchw", "json"};
    flags.insert(augmentFlagNames().begin(), augmentFlagNames().end());
    const Args args(argv, options, flags);

    const auto resumeDir = args.value("resume");
    TrainConfig config;
    if (resumeDir) {
        if (!args.positionals().empty())
            throw UsageError("--resume takes the run directory, no data folder");
        config = Trainer::resumeConfig(*resumeDir);
    } else {
        config = configFromArgs(args);
    }
    ProgressPrinter printer(
        args.flag("json") ? ProgressPrinter::Style::Json : ProgressPrinter::Style::Auto,
        config.epochs);
    Trainer trainer(config, &printer, resumeDir.has_value());
    g_trainer = &trainer;
    std::signal(SIGINT, onInterrupt);
    const TrainingResult result = trainer.run();
    g_trainer = nullptr;
    std::signal(SIGINT, SIG_DFL);
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
