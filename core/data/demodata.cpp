#include "data/demodata.h"

#include "data/opencvcodecs.h"
#include "error.h"

#include <opencv2/core.hpp>

#include <zlib.h>

#include <cstdio>
#include <filesystem>

namespace convscope {

namespace fs = std::filesystem;

const std::vector<std::string>& fashionMnistClassNames() {
    static const std::vector<std::string> names{"t-shirt-top", "trouser",   "pullover", "dress",
                                                "coat",        "sandal",    "shirt",    "sneaker",
                                                "bag",         "ankle-boot"};
    return names;
}

IdxData readIdxFile(const std::string& path) {
    gzFile f = gzopen(path.c_str(), "rb");  // also reads uncompressed files
    if (!f)
        throw Error(path, "cannot open");
    std::vector<std::uint8_t> bytes;
    std::uint8_t chunk[1 << 16];
    int got = 0;
    while ((got = gzread(f, chunk, sizeof chunk)) > 0)
        bytes.insert(bytes.end(), chunk, chunk + got);
    const bool failed = got < 0;
    gzclose(f);
    if (failed)
        throw Error(path, "corrupt gzip data");
    if (bytes.size() < 4 || bytes[0] != 0 || bytes[1] != 0 || bytes[2] != 0x08)
        throw Error(path, "not an IDX file of unsigned bytes");
    const int rank = bytes[3];
    if (bytes.size() < 4 + 4 * std::size_t(rank))
        throw Error(path, "truncated IDX header");
    IdxData idx;
    std::size_t count = 1;
    for (int d = 0; d < rank; ++d) {
        const std::uint8_t* p = bytes.data() + 4 + 4 * d;
        const int dim = int((std::uint32_t(p[0]) << 24) | (p[1] << 16) | (p[2] << 8) | p[3]);
        idx.dims.push_back(dim);
        count *= std::size_t(dim);
    }
    const std::size_t offset = 4 + 4 * std::size_t(rank);
    if (bytes.size() - offset < count)
        throw Error(path, "truncated IDX data");
    idx.values.assign(bytes.begin() + std::ptrdiff_t(offset),
                      bytes.begin() + std::ptrdiff_t(offset + count));
    return idx;
}

namespace {

int writeSplit(const fs::path& dir, const std::string& source, const std::string& prefix,
               int perClass) {
    const IdxData images = readIdxFile(source + "/" + prefix + "-images-idx3-ubyte.gz");
    const IdxData labels = readIdxFile(source + "/" + prefix + "-labels-idx1-ubyte.gz");
    if (images.dims.size() != 3 || labels.dims.size() != 1 || images.dims[0] != labels.dims[0])
        throw Error(source, "IDX images and labels do not match");
    const auto& names = fashionMnistClassNames();
    for (const auto& name : names)
        fs::create_directories(dir / name);
    const int rows = images.dims[1];
    const int cols = images.dims[2];
    std::vector<int> written(names.size(), 0);
    int total = 0;
    for (int i = 0; i < images.dims[0]; ++i) {
        const std::size_t label = labels.values[std::size_t(i)];
        if (label >= names.size() || written[label] >= perClass)
            continue;
        const cv::Mat img(
            rows, cols, CV_8U,
            const_cast<std::uint8_t*>(images.values.data()) + std::size_t(i) * rows * cols);
        char file[32];
        std::snprintf(file, sizeof file, "%05d.png", i);
        const fs::path out = dir / names[label] / file;
        if (!opencvWrite(out.string(), img))
            throw Error(out.string(), "cannot write");
        ++written[label];
        ++total;
    }
    return total;
}

}  // namespace

DemoDataSummary writeFashionMnistFolders(const std::string& root, const DemoDataOptions& options) {
    if (!fs::exists(options.sourceDir + "/train-images-idx3-ubyte.gz"))
        throw Error(options.sourceDir,
                    "Fashion-MNIST not found (install the Debian package dataset-fashion-mnist)");
    DemoDataSummary summary;
    try {
        summary.trainImages =
            writeSplit(fs::path(root) / "train", options.sourceDir, "train", options.perClassTrain);
        summary.validationImages = writeSplit(fs::path(root) / "validation", options.sourceDir,
                                              "t10k", options.perClassValidation);
    } catch (const fs::filesystem_error& e) {
        throw Error(e.path1().string(), e.code().message());
    }
    return summary;
}

}  // namespace convscope
