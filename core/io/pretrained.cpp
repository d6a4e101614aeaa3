#include "io/pretrained.h"

#include "error.h"
#include "io/kerasweights.h"
#include "io/tfjsmodel.h"

#include <cstring>
#include <filesystem>
#include <fstream>

namespace convscope {

namespace {

/// HDF5's signature sits at offset 0, 512, 1024, ... (after a user block).
bool isHdf5(const std::string& path) {
    static const char kSignature[8] = {'\x89', 'H', 'D', 'F', '\r', '\n', '\x1a', '\n'};
    std::ifstream in(path, std::ios::binary);
    char bytes[8];
    for (std::streamoff at = 0; in.seekg(at) && in.read(bytes, 8); at = at ? at * 2 : 512)
        if (std::memcmp(bytes, kSignature, 8) == 0)
            return true;
    return false;
}

}  // namespace

WeightsFormat detectWeightsFormat(const std::string& path) {
    if (!std::filesystem::is_regular_file(path))
        throw Error(path, "no such file");
    if (isHdf5(path)) {
        const KerasWeightsFile file = readKerasWeights(path);
        return file.metadata.count("model") ? WeightsFormat::ConvScope : WeightsFormat::KerasHdf5;
    }
    if (looksLikeJson(path))
        return WeightsFormat::TfjsLayersModel;
    throw Error(path, "not a weight file ConvScope reads (HDF5 or a TF.js model.json)");
}

}  // namespace convscope
