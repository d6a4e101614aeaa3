#include "io/pretrained.h"

#include "error.h"
#include "io/kerasimport.h"
#include "io/torchpth.h"
#include "io/torchvisionweights.h"

#include <cstring>
#include <fstream>

namespace convscope {

namespace {

bool hdf5SignatureAt(std::ifstream& in, std::streamoff offset) {
    static const char kSignature[8] = {'\x89', 'H', 'D', 'F', '\r', '\n', '\x1a', '\n'};
    char head[8] = {};
    in.clear();
    in.seekg(offset);
    in.read(head, 8);
    return in.gcount() == 8 && std::memcmp(head, kSignature, 8) == 0;
}

}  // namespace

const char* weightsFormatName(WeightsFormat format) {
    switch (format) {
        case WeightsFormat::Hdf5:
            return "HDF5";
        case WeightsFormat::TorchPth:
            return "PyTorch state_dict";
        case WeightsFormat::KerasBackbone:
            return "Keras backbone";
    }
    return "unknown";
}

WeightsFormat detectWeightsFormat(const std::string& path) {
    return atBoundary(path, [&] {
        std::ifstream in(path, std::ios::binary);
        if (!in)
            throw Error(path, "cannot open");
        if (isKerasImport(path))
            return WeightsFormat::KerasBackbone;
        char head[4] = {};
        in.read(head, 4);
        const auto got = in.gcount();
        if (got == 0)
            throw Error(path, "empty file");
        if (got == 4 && std::memcmp(head, "PK\x03\x04", 4) == 0)
            return WeightsFormat::TorchPth;
        if (std::uint8_t(head[0]) == 0x80)  // a pickle: a legacy torch.save file
            return WeightsFormat::TorchPth;
        // HDF5 puts its signature at 0 or after a user block of 512, 1024, 2048... bytes.
        for (std::streamoff offset : {0, 512, 1024, 2048, 4096})
            if (hdf5SignatureAt(in, offset))
                return WeightsFormat::Hdf5;
        throw Error(path,
                    "not a weight file ConvScope reads (HDF5 from ConvScope or Keras, a "
                    "PyTorch state_dict .pth or a TF.js model.json)");
    });
}

PretrainedLoad loadPretrainedWeights(const std::string& path, ClassifierImpl& model) {
    return atBoundary(path, [&] {
        PretrainedLoad out;
        out.format = detectWeightsFormat(path);
        switch (out.format) {
            case WeightsFormat::Hdf5:
                out.report = loadModelWeights(path, model, /*byName=*/true);
                if (out.report.metadata)
                    out.preprocessing = out.report.metadata->preprocessing;
                break;
            case WeightsFormat::TorchPth:
                out.report = loadTorchvisionWeights(readTorchStateDict(path), model, path);
                out.preprocessing = torchvisionPreprocessing();
                break;
            case WeightsFormat::KerasBackbone: {
                const KerasImport imported = readKerasImport(path);
                out.report = loadBackboneWeights(imported.weights, path, model);
                out.description = imported.description;
                out.preprocessing = imported.preprocessing;
                break;
            }
        }
        return out;
    });
}

std::optional<WeightsMetadata> readPretrainedMetadata(const std::string& path) {
    return atBoundary(path, [&]() -> std::optional<WeightsMetadata> {
        switch (detectWeightsFormat(path)) {
            case WeightsFormat::Hdf5:
                return readWeightsMetadata(path);
            case WeightsFormat::TorchPth: {
                WeightsMetadata m;
                m.model =
                    torchvisionModelConfig(readTorchStateDict(path, /*withValues=*/false), path);
                for (int i = 0; i < m.model.classCount; ++i)
                    m.classNames.push_back("class_" + std::to_string(i));
                m.preprocessing = torchvisionPreprocessing();
                return m;
            }
            case WeightsFormat::KerasBackbone: {
                const KerasImport imported = readKerasImport(path, /*withWeights=*/false);
                WeightsMetadata m;
                m.model.architecture = imported.architecture;
                m.model.flavour = imported.flavour;
                m.model.inputSize = imported.inputSize > 0 ? imported.inputSize : 224;
                m.model.classCount = 0;
                m.preprocessing = imported.preprocessing;
                return m;
            }
        }
        return std::nullopt;
    });
}

}  // namespace convscope
