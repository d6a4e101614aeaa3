#include "cli/args.h"
#include "cli/commands.h"

#include "data/demodata.h"

#include <cstdio>

namespace convscope::cli {

int demoDataCommand(const std::vector<std::string>& argv) {
    const Args args(argv, {"per-class", "val-per-class", "source"}, {});
    if (args.positionals().size() != 1)
        throw UsageError("demo-data takes one output folder");
    DemoDataOptions options;
    options.perClassTrain = int(args.integer("per-class", 300));
    options.perClassValidation =
        int(args.integer("val-per-class", std::max(1, options.perClassTrain / 5)));
    options.sourceDir = args.text("source", kFashionMnistDir);
    if (options.perClassTrain <= 0 || options.perClassValidation < 0)
        throw UsageError("--per-class must be positive and --val-per-class not negative");
    const std::string& root = args.positionals()[0];
    const DemoDataSummary s = writeFashionMnistFolders(root, options);
    std::printf("Wrote Fashion-MNIST to %s: %d train and %d validation images in %zu classes\n",
                root.c_str(), s.trainImages, s.validationImages, fashionMnistClassNames().size());
    return 0;
}

}  // namespace convscope::cli
