// filters, featuremaps and cam: the commands that look inside a trained model.
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/jsontext.h"
#include "cli/modeloptions.h"

#include "data/imagedecoder.h"
#include "error.h"
#include "inspect/colormap.h"
#include "inspect/imagegrid.h"
#include "inspect/inspector.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <iostream>

namespace convscope::cli {

namespace {

std::set<std::string> withModelOptions(std::set<std::string> options) {
    options.insert(kModelOptions.begin(), kModelOptions.end());
    return options;
}

std::string layerList(Inspector& inspector, bool kernelsOnly) {
    std::string names;
    for (const auto& l : inspector.layers())
        if (kernelsOnly ? l.hasKernels : l.spatial)
            names += (names.empty() ? "" : ", ") + l.name;
    return names;
}

std::string requireLayer(const Args& args, Inspector& inspector, bool kernelsOnly) {
    const auto layer = args.value("layer");
    if (!layer)
        throw UsageError("--layer is required; this model's layers: " +
                         layerList(inspector, kernelsOnly));
    return *layer;
}

FilterChannels parseChannels(const std::string& s) {
    if (s == "auto")
        return FilterChannels::Auto;
    if (s == "rgb")
        return FilterChannels::Rgb;
    if (s == "mean")
        return FilterChannels::Mean;
    if (s == "per-input")
        return FilterChannels::PerInput;
    throw UsageError("--channels takes auto, rgb, mean or per-input");
}

MaximizeOptions maximizeOptions(const Args& args) {
    MaximizeOptions o;
    o.steps = int(args.integer("steps", o.steps));
    o.stepSize = float(args.number("step-size", o.stepSize));
    o.jitter = int(args.integer("jitter", o.jitter));
    o.blurEvery = int(args.integer("blur-every", o.blurEvery));
    o.blurSigma = float(args.number("blur-sigma", o.blurSigma));
    o.octaves = int(args.integer("octaves", o.octaves));
    o.size = int(args.integer("size-px", 0));
    o.seed = std::uint64_t(args.integer("seed", 1));
    return o;
}

int maximizeLayerCommand(const Args& args, Inspector& inspector, const std::string& layer,
                         const std::string& out) {
    const bool json = args.flag("json");
    int lastPercent = -1;
    const auto pictures = inspector.maximizeLayer(
        layer, maximizeOptions(args), int(args.integer("limit", 0)), nullptr,
        [&](int done, int total) {
            const int percent = 100 * done / std::max(1, total);
            if (!json && percent / 10 != lastPercent / 10)
                std::fprintf(stderr, "\rmaximizing %s: %3d%%", layer.c_str(), percent);
            lastPercent = percent;
        });
    if (!json)
        std::fputc('\n', stderr);
    std::vector<RgbImage> tiles;
    for (const auto& p : pictures)
        tiles.push_back(p.image);
    const int tile = int(args.integer("tile", 96));
    writePng(out, tileGrid(tiles, int(std::ceil(std::sqrt(double(tiles.size())))), tile, 4));
    nlohmann::json filters = nlohmann::json::array();
    for (const auto& p : pictures) {
        if (json)
            filters.push_back({{"filter", p.filter},
                               {"start_activation", p.startActivation},
                               {"final_activation", p.finalActivation}});
        else
            std::printf("filter %4d  mean activation %10.4f -> %10.4f\n", p.filter,
                        double(p.startActivation), double(p.finalActivation));
    }
    if (json)
        std::cout << jsonText(nlohmann::json{{"layer", layer}, {"out", out}, {"filters", filters}})
                  << "\n";
    else
        std::printf("wrote %s (%zu filters, highest activation first)\n", out.c_str(),
                    pictures.size());
    return 0;
}

}  // namespace

int filtersCommand(const std::vector<std::string>& argv) {
    const Args args(argv,
                    withModelOptions({"layer", "out", "channels", "normalise", "steps", "step-size",
                                      "jitter", "blur-every", "blur-sigma", "octaves", "size-px",
                                      "seed", "limit", "tile"}),
                    {"maximize", "json"});
    if (args.positionals().size() != 1)
        throw UsageError("filters takes one weights file");
    Inspector inspector(args.positionals()[0], fallbackMetadata(args), kernelLayoutFromArgs(args));
    inspector.setDevice(deviceFromArgs(args));
    const bool maximize = args.flag("maximize");
    const std::string layer = requireLayer(args, inspector, !maximize);
    const auto out = args.value("out");
    if (!out)
        throw UsageError("filters needs --out grid.png");
    if (maximize)
        return maximizeLayerCommand(args, inspector, layer, *out);

    const std::string normalise = args.text("normalise", "filter");
    if (normalise != "filter" && normalise != "layer")
        throw UsageError("--normalise takes filter or layer");
    const FilterImages f = inspector.filterWeights(
        layer, parseChannels(args.text("channels", "auto")),
        normalise == "layer" ? FilterNormalisation::PerLayer : FilterNormalisation::PerFilter);
    writePng(*out, tileGrid(f.tiles, f.columns, int(args.integer("tile", 32))));
    if (args.flag("json"))
        std::cout << jsonText(nlohmann::json{{"layer", layer},
                                             {"out", *out},
                                             {"filters", f.filters},
                                             {"input_channels", f.inputChannels},
                                             {"kernel", {f.kernelHeight, f.kernelWidth}},
                                             {"tiles", f.tiles.size()}})
                  << "\n";
    else
        std::printf("wrote %s: %d filters of %dx%dx%d\n", out->c_str(), f.filters, f.inputChannels,
                    f.kernelHeight, f.kernelWidth);
    return 0;
}

int featureMapsCommand(const std::vector<std::string>& argv) {
    const Args args(argv, withModelOptions({"layer", "out", "colormap", "tile", "columns"}),
                    {"shared-range", "json"});
    if (args.positionals().size() != 2)
        throw UsageError("featuremaps takes a weights file and an image");
    Inspector inspector(args.positionals()[0], fallbackMetadata(args), kernelLayoutFromArgs(args));
    inspector.setDevice(deviceFromArgs(args));
    const std::string layer = requireLayer(args, inspector, false);
    const auto out = args.value("out");
    if (!out)
        throw UsageError("featuremaps needs --out grid.png");
    const RgbImage image = decodeRgbImage(args.positionals()[1]);
    const FeatureMaps maps = inspector.featureMaps(image, layer);
    writePng(*out, featureGrid(maps, int(args.integer("tile", 64)),
                               parseColormap(args.text("colormap", "viridis")),
                               args.flag("shared-range"), int(args.integer("columns", 0))));
    if (args.flag("json")) {
        std::cout << jsonText(nlohmann::json{{"layer", layer},
                                             {"out", *out},
                                             {"channels", maps.channels},
                                             {"height", maps.height},
                                             {"width", maps.width},
                                             {"min", maps.minValue},
                                             {"max", maps.maxValue}})
                  << "\n";
    } else {
        std::printf("wrote %s: %d maps of %dx%d, values %.4g..%.4g\n", out->c_str(), maps.channels,
                    maps.width, maps.height, double(maps.minValue), double(maps.maxValue));
    }
    return 0;
}

int camCommand(const std::vector<std::string>& argv) {
    const Args args(argv,
                    withModelOptions({"class", "method", "layer", "out", "opacity", "colormap"}),
                    {"json", "no-box"});
    if (args.positionals().size() != 2)
        throw UsageError("cam takes a weights file and an image");
    Inspector inspector(args.positionals()[0], fallbackMetadata(args), kernelLayoutFromArgs(args));
    inspector.setDevice(deviceFromArgs(args));
    const auto& names = inspector.metadata().classNames;
    int classIndex = -1;
    if (const auto name = args.value("class")) {
        const auto it = std::find(names.begin(), names.end(), *name);
        if (it == names.end())
            throw Error(*name, "is not one of the model's classes");
        classIndex = int(it - names.begin());
    }
    const std::string method = args.text("method", "cam");
    if (method != "cam" && method != "gradcam")
        throw UsageError("--method takes cam or gradcam");
    const RgbImage image = decodeRgbImage(args.positionals()[1]);
    const ClassActivation cam = inspector.classActivation(
        image, classIndex, method == "cam" ? CamMethod::Cam : CamMethod::GradCam,
        args.text("layer", ""));
    if (const auto out = args.value("out")) {
        RgbImage overlay = overlayHeat(image, cam.heat, float(args.number("opacity", 0.5)),
                                       parseColormap(args.text("colormap", "jet")));
        if (!args.flag("no-box"))
            drawBox(overlay, cam.boxX0, cam.boxY0, cam.boxX1, cam.boxY1, {255, 255, 255},
                    std::max(1, std::min(image.width, image.height) / 100));
        writePng(*out, overlay);
    }
    const std::string className = names[std::size_t(cam.classIndex)];
    const float probability = cam.probabilities[std::size_t(cam.classIndex)];
    if (args.flag("json")) {
        std::cout << jsonText(nlohmann::json{{"class", className},
                                             {"probability", probability},
                                             {"method", method},
                                             {"layer", cam.featureLayer},
                                             {"peak", {cam.peakX, cam.peakY}},
                                             {"box", {cam.boxX0, cam.boxY0, cam.boxX1, cam.boxY1}}})
                  << "\n";
    } else {
        std::printf("%s (%.1f%%) by %s on %s: peak (%d, %d), box (%d, %d)-(%d, %d)\n",
                    className.c_str(), 100.0 * double(probability), method.c_str(),
                    cam.featureLayer.c_str(), cam.peakX, cam.peakY, cam.boxX0, cam.boxY0, cam.boxX1,
                    cam.boxY1);
    }
    return 0;
}

}  // namespace convscope::cli
