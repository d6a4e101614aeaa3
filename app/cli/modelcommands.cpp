// evaluate, predict and summary: the commands that use a trained model.
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/jsontext.h"
#include "cli/modeloptions.h"

#include "data/datasetindex.h"
#include "data/imageprobe.h"
#include "error.h"
#include "inspect/predictor.h"
#include "io/modelweights.h"
#include "io/tfjsmodel.h"
#include "io/weightsfile.h"
#include "models/classifier.h"
#include "models/kerasforms.h"
#include "util/text.h"

#include <nlohmann/json.hpp>

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <numeric>

namespace convscope::cli {

namespace fs = std::filesystem;

namespace {

std::vector<std::string> imagesIn(const std::vector<std::string>& inputs) {
    std::vector<std::string> files;
    for (const auto& input : inputs) {
        std::error_code ec;
        if (fs::is_directory(input, ec)) {
            std::vector<std::string> found;
            for (auto it = fs::recursive_directory_iterator(
                     input, fs::directory_options::skip_permission_denied, ec);
                 !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
                if (it->is_regular_file() &&
                    probeImageFile(it->path().string()).format != ImageFormat::Unknown)
                    found.push_back(it->path().string());
            }
            std::sort(found.begin(), found.end());
            files.insert(files.end(), found.begin(), found.end());
        } else {
            files.push_back(input);
        }
    }
    return files;
}

std::string csvField(const std::string& s) {
    if (s.find_first_of(",\"\n") == std::string::npos)
        return s;
    std::string out = "\"";
    for (char c : s)
        out += c == '"' ? std::string("\"\"") : std::string(1, c);
    return out + "\"";
}

}  // namespace

int predictCommand(const std::vector<std::string>& argv) {
    std::set<std::string> options{"csv", "top-k", "batch"};
    options.insert(kModelOptions.begin(), kModelOptions.end());
    const Args args(argv, options, {"json", "logits"});
    if (args.positionals().size() < 2)
        throw UsageError("predict takes a weights file and images or folders");
    if (args.flag("logits") && !args.flag("json"))
        throw UsageError("--logits adds the logits to --json output");
    Predictor predictor(args.positionals()[0], fallbackMetadata(args), kernelLayoutFromArgs(args));
    predictor.setDevice(deviceFromArgs(args), inferencePrecisionFromArgs(args));
    if (!predictor.loadReport().notInFile.empty() || !predictor.loadReport().notes.empty())
        std::fprintf(stderr, "%s: %s\n", args.positionals()[0].c_str(),
                     describe(predictor.loadReport()).c_str());
    const auto& names = predictor.metadata().classNames;
    const int topK = std::clamp(int(args.integer("top-k", 3)), 1, int(names.size()));
    const std::vector<std::string> inputs(args.positionals().begin() + 1, args.positionals().end());
    const auto files = imagesIn(inputs);
    if (files.empty())
        throw Error(inputs[0], "no images found");
    const auto predictions = predictor.predictFiles(files, int(args.integer("batch", 32)));

    std::ofstream csv;
    if (const auto path = args.value("csv")) {
        csv.open(*path);
        if (!csv)
            throw Error(*path, "cannot write");
        csv << "path,top";
        for (const auto& n : names)
            csv << "," << csvField(n);
        csv << "\n";
    }
    int failures = 0;
    for (const Prediction& p : predictions) {
        if (!p.error.empty()) {
            std::fprintf(stderr, "%s: %s\n", p.path.c_str(), p.error.c_str());
            ++failures;
            continue;
        }
        std::vector<int> order(p.probabilities.size());
        std::iota(order.begin(), order.end(), 0);
        std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
            return p.probabilities[std::size_t(a)] > p.probabilities[std::size_t(b)];
        });
        if (args.flag("json")) {
            nlohmann::json probs = nlohmann::json::object();
            for (std::size_t c = 0; c < names.size(); ++c)
                probs[names[c]] = p.probabilities[c];
            nlohmann::json line{{"path", escapeInvalidUtf8(p.path)},
                                {"probabilities", probs},
                                {"top", names[std::size_t(p.top)]}};
            if (args.flag("logits"))
                line["logits"] = p.logits;  // in class order, unrounded
            std::cout << jsonText(line) << "\n";
        } else {
            std::printf("%s:", p.path.c_str());
            for (int k = 0; k < topK; ++k)
                std::printf(" %s %.3f", names[std::size_t(order[std::size_t(k)])].c_str(),
                            p.probabilities[std::size_t(order[std::size_t(k)])]);
            std::printf("\n");
        }
        if (csv.is_open()) {
            csv << csvField(escapeInvalidUtf8(p.path)) << ","
                << csvField(names[std::size_t(p.top)]);
            for (float v : p.probabilities)
                csv << "," << v;
            csv << "\n";
        }
    }
    std::cout.flush();
    return failures == 0 ? 0 : 1;
}

int evaluateCommand(const std::vector<std::string>& argv) {
    std::set<std::string> options{"split", "val-fraction", "seed", "batch"};
    options.insert(kModelOptions.begin(), kModelOptions.end());
    const Args args(argv, options, {"json"});
    if (args.positionals().size() != 2)
        throw UsageError("evaluate takes a weights file and a data folder");
    Predictor predictor(args.positionals()[0], fallbackMetadata(args), kernelLayoutFromArgs(args));
    predictor.setDevice(deviceFromArgs(args), inferencePrecisionFromArgs(args));
    const std::string splitName = args.text("split", "validation");
    std::optional<Split> split;
    if (splitName == "train")
        split = Split::Train;
    else if (splitName == "validation")
        split = Split::Validation;
    else if (splitName != "all")
        throw UsageError("--split must be train, validation or all");
    const Evaluation e = predictor.evaluate(
        args.positionals()[1], split, args.number("val-fraction", 0.2),
        std::uint64_t(args.integer("seed", 1337)), int(args.integer("batch", 32)));
    const auto& names = predictor.metadata().classNames;
    if (args.flag("json")) {
        nlohmann::json classes = nlohmann::json::array();
        for (std::size_t c = 0; c < names.size(); ++c)
            classes.push_back({{"name", names[c]},
                               {"precision", e.precision(int(c))},
                               {"recall", e.recall(int(c))}});
        std::cout << jsonText(nlohmann::json{{"accuracy", e.accuracy()},
                                             {"loss", e.loss},
                                             {"images", e.samples},
                                             {"classes", classes},
                                             {"confusion", e.confusion}})
                  << std::endl;
        return 0;
    }
    std::printf("%lld images (%s): accuracy %.4f, loss %.4f\n", (long long)e.samples,
                splitName.c_str(), e.accuracy(), e.loss);
    std::size_t width = 5;
    for (const auto& n : names)
        width = std::max(width, n.size());
    std::printf("\n  %-*s %9s %7s\n", int(width), "class", "precision", "recall");
    for (std::size_t c = 0; c < names.size(); ++c)
        std::printf("  %-*s %9.3f %7.3f\n", int(width), names[c].c_str(), e.precision(int(c)),
                    e.recall(int(c)));
    // Row labels are "<index> <name>", so the column is wider than the names by the index.
    const int rowLabelWidth = int(width + std::to_string(names.size()).size() + 1);
    std::printf("\nconfusion (rows: true class, columns: predicted)\n  %-*s", rowLabelWidth, "");
    for (std::size_t c = 0; c < names.size(); ++c)
        std::printf(" %5zu", c);
    std::printf("\n");
    for (std::size_t t = 0; t < names.size(); ++t) {
        std::printf("  %-*s", rowLabelWidth, (std::to_string(t) + " " + names[t]).c_str());
        for (std::size_t p = 0; p < names.size(); ++p)
            std::printf(" %5lld", (long long)e.confusion[t][p]);
        std::printf("\n");
    }
    return 0;
}

namespace {

/// A JSON file that is a Keras model to build from its config: a to_json() file, or a TF.js
/// model of no built-in backbone, or any when surgery is asked for.
bool isKerasModelFile(const std::string& path, const Args& args) {
    if (!looksLikeJson(path))
        return false;
    if (args.value("cut-after") || args.value("append"))
        return true;
    try {
        return WeightsFile::open(path, WeightsFile::Contents::Metadata).format() !=
               WeightsFormat::KerasBackbone;
    } catch (const Error&) {
        return true;  // not a TF.js model: a to_json() file (its reader names what is wrong)
    }
}

}  // namespace

int summaryCommand(const std::vector<std::string>& argv) {
    const Args args(argv,
                    {"size", "classes", "head", "flavour", "cut-after", "append", "kernel-layout"},
                    {"json"});
    if (args.positionals().size() != 1)
        throw UsageError("summary takes an architecture name, a weights file or a Keras model");
    const std::string& what = args.positionals()[0];
    ModelConfig config;
    std::optional<WeightsFile> backbone;
    if (fs::is_regular_file(what) && isKerasModelFile(what, args)) {
        // A Keras network built from its own config, with the surgery asked for.
        networkFromArgs(args, config, 224, what);
        config.classCount = int(args.integer("classes", 2));
    } else if (fs::is_regular_file(what)) {
        WeightsFile file = WeightsFile::open(what, WeightsFile::Contents::Metadata);
        if (!file.metadata())
            throw Error(what, "has no ConvScope metadata; name the architecture instead");
        config = file.metadata()->model;
        if (file.format() == WeightsFormat::KerasBackbone) {
            config.head = parseHead(args.text("head", "gap"));
            config.inputSize = int(args.integer("size", config.inputSize));
            config.classCount = int(args.integer("classes", 2));
            // Its tensors too: loading them checks that every backbone layer is there and fits.
            backbone = WeightsFile::open(what);
        }
    } else {
        config.architecture = parseArchitecture(what);
        config.head = parseHead(args.text("head", "flatten"));
        config.flavour = parseFlavour(args.text("flavour", "standard"));
        config.inputSize = int(args.integer("size", 150));
        config.classCount = int(args.integer("classes", 2));
        config.cutAfter = args.text("cut-after", "");
        config.append = args.text("append", "");
        if (!config.cutAfter.empty() || !config.append.empty())
            config = asKerasNetwork(config);
    }
    const Classifier model = makeClassifier(config);
    std::string origin;
    if (backbone) {
        origin = backbone->description() + ", preprocessing '" +
                 backbone->metadata()->preprocessing.name +
                 "': " + describe(backbone->loadInto(*model, kernelLayoutFromArgs(args)).report);
    }
    const auto layers = model->summary();
    std::int64_t total = 0;
    for (const auto& l : layers)
        total += l.parameters;
    if (args.flag("json")) {
        nlohmann::json rows = nlohmann::json::array();
        for (const auto& l : layers)
            rows.push_back({{"name", l.name},
                            {"kind", l.kind},
                            {"output_shape", l.outputShape},
                            {"parameters", l.parameters}});
        nlohmann::json out{{"architecture", architectureName(config.architecture)},
                           {"flavour", flavourName(config.flavour)},
                           {"layers", rows},
                           {"parameters", total}};
        if (backbone)
            out["origin"] = {{"description", backbone->description()},
                             {"preprocessing", backbone->metadata()->preprocessing.name},
                             {"report", origin}};
        std::cout << jsonText(out) << std::endl;
        return 0;
    }
    if (backbone)
        std::printf("%s\n", origin.c_str());
    std::printf(
        "%s%s, head %s, input %dx%dx3, %d classes\n\n", architectureName(config.architecture),
        config.flavour == Flavour::Keras ? " (Keras flavour)" : "", headName(model->config().head),
        config.inputSize, config.inputSize, config.classCount);
    int nameWidth = 26;  // Keras-flavour names run longer ("expanded_conv_depthwise_relu")
    for (const auto& l : layers)
        nameWidth = std::max(nameWidth, int(l.name.size()));
    std::printf("  %-*s %-13s %-18s %12s\n", nameWidth, "layer", "kind", "output", "parameters");
    for (const auto& l : layers) {
        std::string shape = "(";
        for (std::size_t i = 0; i < l.outputShape.size(); ++i)
            shape += (i ? ", " : "") + std::to_string(l.outputShape[i]);
        shape += ")";
        std::printf("  %-*s %-13s %-18s %12lld\n", nameWidth, l.name.c_str(), l.kind.c_str(),
                    shape.c_str(), (long long)l.parameters);
    }
    std::printf("\nTotal parameters: %lld\n", (long long)total);
    return 0;
}

}  // namespace convscope::cli
