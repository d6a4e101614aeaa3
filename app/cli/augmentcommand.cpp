#include "cli/args.h"
#include "cli/augmentoptions.h"
#include "cli/commands.h"

#include "augment/previews.h"
#include "data/datasetindex.h"
#include "data/imagedecoder.h"
#include "data/opencvcodecs.h"
#include "error.h"
#include "util/random.h"

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>  // the IMWRITE_ constants
#include <opencv2/imgproc.hpp>

#include <cstdio>
#include <filesystem>

namespace convscope::cli {

namespace fs = std::filesystem;

namespace {

struct Source {
    std::string prefix;  // the class name, or the file's stem
    std::string path;
};

std::vector<Source> pickSources(const std::string& data, const Args& args) {
    if (fs::is_regular_file(data))
        return {{fs::path(data).stem().string(), data}};
    const DatasetIndex index = DatasetIndex::scan(data);
    const auto wanted = args.value("class");
    std::vector<Source> sources;
    const auto& names = index.classNames();
    for (std::size_t c = 0; c < names.size(); ++c) {
        if (wanted && *wanted != names[c])
            continue;
        for (std::size_t i : index.indices(Split::Train)) {
            if (index.samples()[i].label == int(c)) {
                sources.push_back({names[c], index.samples()[i].path});
                break;
            }
        }
    }
    if (sources.empty())
        throw Error(data, wanted ? "no class named " + *wanted : "no images");
    return sources;
}

}  // namespace

int augmentCommand(const std::vector<std::string>& argv) {
    std::set<std::string> options{"n", "out", "seed", "size", "class"};
    options.insert(augmentOptionNames().begin(), augmentOptionNames().end());
    const Args args(argv, options, augmentFlagNames());
    if (args.positionals().size() != 1)
        throw UsageError("augment takes one folder or image");
    const auto out = args.value("out");
    if (!out)
        throw UsageError("augment needs --out DIR");
    const int n = int(args.integer("n", 9));
    if (n <= 0)
        throw UsageError("--n must be positive");
    const AugmentParams params = augmentParamsFromArgs(args);
    const std::uint64_t seed = std::uint64_t(args.integer("seed", 1337));
    DecodeOptions decode;
    decode.width = decode.height = int(args.integer("size", 0));

    fs::create_directories(*out);
    int written = 0;
    const std::vector<Source> sources = pickSources(args.positionals()[0], args);
    for (std::size_t k = 0; k < sources.size(); ++k) {
        const Source& source = sources[k];
        const RgbImage image = decodeRgbImage(source.path, decode);
        Rng names(mixSeed(seed, k, 2));
        const auto previews = augmentPreviews(image, params, n, mixSeed(seed, k, 1));
        cv::Mat bgr;
        for (int i = 0; i < n; ++i) {
            const RgbImage& p = previews[std::size_t(i)];
            const cv::Mat rgb(p.height, p.width, CV_8UC3,
                              const_cast<std::uint8_t*>(p.pixels.data()));
            cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
            // Keras's preview naming: <prefix>_<index>_<random>.jpeg
            const fs::path file =
                fs::path(*out) / (source.prefix + "_" + std::to_string(i) + "_" +
                                  std::to_string(names.below(10'000'000)) + ".jpeg");
            if (!opencvWrite(file.string(), bgr, {cv::IMWRITE_JPEG_QUALITY, 95}))
                throw Error(file.string(), "cannot write");
            ++written;
        }
        std::printf("%s: %d previews of %s\n", source.prefix.c_str(), n, source.path.c_str());
    }
    std::printf("Wrote %d images to %s\n", written, out->c_str());
    return 0;
}

}  // namespace convscope::cli
