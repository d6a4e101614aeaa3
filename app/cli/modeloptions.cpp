#include "cli/modeloptions.h"

#include "cli/args.h"

#include "error.h"
#include "models/kerasconfig.h"
#include "models/kerassurgery.h"

#include <cctype>
#include <filesystem>
#include <fstream>

namespace convscope::cli {

const std::set<std::string> kModelOptions{"arch",      "size",    "classes",      "labels",
                                          "head",      "flavour", "device",       "precision",
                                          "cut-after", "append",  "kernel-layout"};

void networkFromArgs(const Args& args, ModelConfig& m, int defaultSize,
                     const std::optional<std::string>& given) {
    const std::string arch = given ? *given : args.text("arch", "small");
    int ownSize = 0;
    if (std::filesystem::is_regular_file(arch)) {
        m.architecture = Architecture::Keras;
        m.kerasModel = readKerasModelText(arch);
        const KerasModelConfig keras = parseKerasModelConfig(m.kerasModel, arch);
        for (const KerasLayer& l : keras.layers)
            if (l.type == KerasLayerType::Input && l.inputShape.size() == 3 &&
                l.inputShape[0] > 0 && l.inputShape[0] == l.inputShape[1])
                ownSize = int(l.inputShape[0]);
    } else {
        m.architecture = parseArchitecture(arch);
    }
    m.cutAfter = args.text("cut-after", "");
    m.append = args.text("append", "");
    if (!m.append.empty() && m.cutAfter.empty())
        throw UsageError("--append needs --cut-after LAYER: where the new layers go");
    m.inputSize = int(args.integer("size", ownSize > 0 ? ownSize : defaultSize));
}

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
    WeightsMetadata m;
    const std::string arch = args.text("arch", "small");
    const bool keras = std::filesystem::is_regular_file(arch);
    if (!keras && !classes && !labels && !args.value("size"))
        return std::nullopt;
    if (keras) {
        // A Keras model's config: its input size unless --size, its output units as the
        // classes unless they are named.
        networkFromArgs(args, m.model, 0);
        const KerasNetworkPlan plan = planKerasNetwork(m.model);
        for (const KerasLayer& l : plan.backbone.layers)
            if (l.name == plan.head && !classes && !labels)
                for (std::int64_t i = 0; i < l.filters; ++i)
                    m.classNames.push_back("class_" + std::to_string(i));
        if (m.classNames.empty() && !classes && !labels)
            throw UsageError("the network's new head needs the class names: --classes a,b,...");
    } else {
        m.model.architecture = parseArchitecture(arch);
        m.model.inputSize = int(args.integer("size", 0));  // 0: not given
    }
    m.model.head = parseHead(args.text("head", "flatten"));
    m.model.flavour = parseFlavour(args.text("flavour", "standard"));
    if (args.value("size") && (m.model.inputSize < 8 || m.model.inputSize > kMaxInputSize))
        throw UsageError("--size must be 8 to " + std::to_string(kMaxInputSize));
    m.model.classCount = int(m.classNames.size());
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
