#include "cli/args.h"
#include "cli/commands.h"

#include "data/datasetindex.h"
#include "data/imagecache.h"
#include "data/reportjson.h"

#include <unistd.h>

#include <cstdio>
#include <iostream>

namespace convscope::cli {

namespace {

void printProgress(const char* what, std::size_t done, std::size_t total) {
    if (!isatty(STDERR_FILENO))
        return;
    std::fprintf(stderr, "\r%s %zu/%zu", what, done, total);
    if (done == total)
        std::fprintf(stderr, "\n");
    std::fflush(stderr);
}

void printText(const DatasetIndex& index) {
    const auto& names = index.classNames();
    std::printf("%s (%s)\n", index.root().c_str(),
                index.layout() == DatasetLayout::ClassFolders ? "class folders, split by fraction"
                                                              : "train/ and validation/ folders");
    std::size_t width = 5;
    for (const auto& n : names)
        width = std::max(width, n.size());
    std::printf("  %-*s %8s %11s\n", int(width), "class", "train", "validation");
    std::size_t train = 0, validation = 0;
    for (std::size_t c = 0; c < names.size(); ++c) {
        const std::size_t t = index.count(int(c), Split::Train);
        const std::size_t v = index.count(int(c), Split::Validation);
        train += t;
        validation += v;
        std::printf("  %-*s %8zu %11zu\n", int(width), names[c].c_str(), t, v);
    }
    std::printf("%zu classes, %zu images (%zu train, %zu validation)\n", names.size(),
                train + validation, train, validation);
    const auto& report = index.report();
    if (!report.skipped.empty()) {
        std::printf("Skipped %zu file(s):\n", report.skipped.size());
        for (const auto& s : report.skipped)
            std::printf("  %s: %s\n", s.path.c_str(), s.reason.c_str());
    }
    for (const auto& w : report.warnings)
        std::printf("Warning: %s\n", w.c_str());
}

}  // namespace

int scanCommand(const std::vector<std::string>& argv) {
    const Args args(argv, {"val-fraction", "seed", "max-pixels", "size"}, {"json", "decode"});
    if (args.positionals().size() != 1)
        throw UsageError("scan takes one folder");
    ScanOptions options;
    options.validationFraction = args.number("val-fraction", 0.2);
    if (options.validationFraction < 0 || options.validationFraction >= 1)
        throw UsageError("--val-fraction must be in [0, 1)");
    options.seed = std::uint64_t(args.integer("seed", 1337));
    options.maxPixels = std::uint64_t(args.integer("max-pixels", (long long)kDefaultMaxPixels));
    options.progress = [](std::size_t d, std::size_t t) { printProgress("Reading headers", d, t); };
    DatasetIndex index = DatasetIndex::scan(args.positionals()[0], options);
    if (args.flag("decode")) {
        // Decoding every image also finds files whose headers look fine but whose pixels do not.
        CacheOptions cache;
        cache.width = cache.height = int(args.integer("size", 64));
        cache.maxPixels = options.maxPixels;
        ImageCache(index, cache).decodeAll(nullptr, [](std::size_t d, std::size_t t) {
            printProgress("Decoding", d, t);
        });
    }
    if (args.flag("json"))
        std::cout << datasetSummaryJson(index) << std::endl;
    else
        printText(index);
    return 0;
}

}  // namespace convscope::cli
