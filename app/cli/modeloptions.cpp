#include "cli/modeloptions.h"

#include "cli/args.h"

#include "error.h"

#include <cctype>
#include <fstream>

namespace convscope::cli {

const std::set<std::string> kModelOptions{"arch",    "size",   "classes",   "labels",       "head",
                                          "flavour", "device", "precision", "kernel-layout"};

KernelLayout kernelLayoutFromArgs(const Args& args) {
    const std::string name = args.text("kernel-layout", "auto");
    try {
        return parseKernelLayout(name);
    } catch (const Error&) {
        throw UsageError("--kernel-layout must be auto, tensorflow or theano, not '" + name + "'");
    }
}

DeviceChoice deviceFromArgs(const Args& args) {
    return parseDevice(args.text("device", "auto"));
}

Precision inferencePrecisionFromArgs(const Args& args) {
    return parsePrecision(args.text("precision", "fp32"));
}

namespace {

/// Class names from a labels file: one per line, blank lines and trailing spaces dropped.
std::vector<std::string> readLabels(const std::string& path) {
    std::ifstream in(path);
    if (!in)
        throw Error(path, "cannot open the labels file");
    std::vector<std::string> names;
    std::string line;
    while (std::getline(in, line)) {
        while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back())))
            line.pop_back();
        if (!line.empty())
            names.push_back(line);
    }
    if (names.empty())
        throw Error(path, "the labels file names no class");
    return names;
}

}  // namespace

/// For weight files without ConvScope metadata: --arch, --size, --classes a,b,c or --labels
/// FILE [--head]. A torchvision .pth or Keras backbone uses the class names and --size.
std::optional<WeightsMetadata> fallbackMetadata(const Args& args) {
    const auto classes = args.value("classes");
    const auto labels = args.value("labels");
    if (classes && labels)
        throw UsageError("give --classes or --labels, not both");
    if (!classes && !labels && !args.value("size"))
        return std::nullopt;
    WeightsMetadata m;
    m.model.architecture = parseArchitecture(args.text("arch", "small"));
    m.model.head = parseHead(args.text("head", "flatten"));
    m.model.flavour = parseFlavour(args.text("flavour", "standard"));
    m.model.inputSize = int(args.integer("size", 0));  // 0: not given
    if (args.value("size") && (m.model.inputSize < 8 || m.model.inputSize > kMaxInputSize))
        throw UsageError("--size must be 8 to " + std::to_string(kMaxInputSize));
    m.model.classCount = 0;
    if (!classes && !labels)
        return m;
    if (labels) {
        m.classNames = readLabels(*labels);
        m.model.classCount = int(m.classNames.size());
        return m;
    }
    std::size_t start = 0;
    while (start <= classes->size()) {
        const std::size_t comma = classes->find(',', start);
        m.classNames.push_back(
            classes->substr(start, comma == std::string::npos ? std::string::npos : comma - start));
        if (comma == std::string::npos)
            break;
        start = comma + 1;
    }
    m.model.classCount = int(m.classNames.size());
    return m;
}

}  // namespace convscope::cli
