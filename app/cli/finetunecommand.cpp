#include "cli/args.h"
#include "cli/commands.h"
#include "cli/interruptwatcher.h"
#include "cli/progressprinter.h"
#include "cli/trainoptions.h"

#include "train/finetuner.h"

#include <cstdio>

namespace convscope::cli {

int fineTuneCommand(const std::vector<std::string>& argv) {
    std::set<std::string> options = trainOptionNames();
    options.insert({"head-epochs", "finetune-epochs", "finetune-lr", "finetune-momentum"});
    std::set<std::string> flags = trainFlagNames();
    flags.insert("finetune-bn-train");
    const Args args(argv, options, flags);
    if (args.value("nproc-per-node"))
        return launchDataParallel("finetune", argv, args);

    const auto resumeDir = args.value("resume");
    FineTuneConfig config;
    if (resumeDir) {
        if (!args.positionals().empty())
            throw UsageError("--resume takes the run directory, no data folder");
        config = FineTuner::resumeConfig(*resumeDir);
    } else {
        if (args.value("epochs"))
            throw UsageError("finetune takes --head-epochs and --finetune-epochs, not --epochs");
        if (args.value("freeze-up-to"))
            throw UsageError("finetune freezes by phase itself; --freeze-up-to is for train");
        config.base = trainConfigFromArgs(args);
        if (!args.value("optimizer"))
            config.base.optimizer = OptimizerKind::RmsProp;  // the blog's phase 1
        if (!args.value("lr"))
            config.base.learningRate = 1e-3;
        config.headEpochs = int(args.integer("head-epochs", 10));
        config.fineTuneEpochs = int(args.integer("finetune-epochs", 5));
        config.fineTuneLearningRate = args.number("finetune-lr", 1e-4);
        config.fineTuneMomentum = args.number("finetune-momentum", 0.9);
        config.batchNormInference = !args.flag("finetune-bn-train");
        if (config.headEpochs < 1 || config.fineTuneEpochs < 1)
            throw UsageError("--head-epochs and --finetune-epochs must be at least 1");
        if (config.base.initialWeights.empty())
            std::fprintf(stderr, "note: no --weights: fine-tuning starts from random weights\n");
    }
    ProgressPrinter printer(
        args.flag("json") ? ProgressPrinter::Style::Json : ProgressPrinter::Style::Auto,
        config.headEpochs + config.fineTuneEpochs);
    config.base.decodedStore = decodedStoreFromArgs(args);
    const std::optional<DistributedSetup> distributed = joinDataParallel(args, config.base);
    // Rank 0 reports; the other ranks say only what goes wrong (on stderr, as errors).
    const bool reports = !distributed || distributed->rank == 0;
    FineTuner recipe(config, reports ? &printer : nullptr, resumeDir.has_value());
    TrainingResult result;
    {
        // First Ctrl-C: stop after the current batch (the last checkpoint stays). Second: quit.
        const InterruptWatcher interrupts([&recipe] { recipe.cancel(); });
        result = recipe.run();
    }
    if (result.cancelled) {
        if (reports)  // rank 0 speaks for a data-parallel run
            std::fprintf(stderr,
                         "Cancelled after %d completed epochs; resume with: convscope finetune "
                         "--resume %s%s\n",
                         result.epochsCompleted, config.base.runDir.c_str(),
                         distributed ? " [--nproc-per-node N]" : "");
        return 130;
    }
    return 0;
}

}  // namespace convscope::cli
