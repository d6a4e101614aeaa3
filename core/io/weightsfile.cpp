#include "io/weightsfile.h"

#include "error.h"
#include "io/kerasarchive.h"
#include "io/kerasimport.h"
#include "io/modelweights.h"
#include "models/kerasclassifier.h"
#include "models/kerassurgery.h"
#include "io/tfjsmodel.h"
#include "io/torchpth.h"
#include "io/torchvisionweights.h"
#include "util/enumnames.h"

#include <cstring>
#include <fstream>

namespace convscope {

namespace {

/// What a file's first bytes say it is, before it is read.
enum class Signature { Json, TorchArchive, Hdf5 };

bool hdf5SignatureAt(std::ifstream& in, std::streamoff offset) {
    static const char kSignature[8] = {'\x89', 'H', 'D', 'F', '\r', '\n', '\x1a', '\n'};
    char head[8] = {};
    in.clear();
    in.seekg(offset);
    in.read(head, 8);
    return in.gcount() == 8 && std::memcmp(head, kSignature, 8) == 0;
}

Signature sniff(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw Error(path, "cannot open");
    if (looksLikeJson(path))
        return Signature::Json;
    char head[4] = {};
    in.read(head, 4);
    const auto got = in.gcount();
    if (got == 0)
        throw Error(path, "empty file");
    if (got == 4 && std::memcmp(head, "PK\x03\x04", 4) == 0)
        return Signature::TorchArchive;
    if (std::uint8_t(head[0]) == 0x80)  // a pickle: a legacy torch.save file
        return Signature::TorchArchive;
    // HDF5 puts its signature at 0 or after a user block of 512, 1024, 2048... bytes.
    for (std::streamoff offset : {0, 512, 1024, 2048, 4096})
        if (hdf5SignatureAt(in, offset))
            return Signature::Hdf5;
    throw Error(path,
                "not a weight file ConvScope reads (HDF5 from ConvScope or Keras, a "
                "PyTorch state_dict .pth or a TF.js model.json)");
}

WeightsMetadata backboneMetadata(const KerasImport& imported) {
    WeightsMetadata m;
    m.model.architecture = imported.architecture;
    m.model.flavour = imported.flavour;
    m.model.inputSize = imported.inputSize > 0 ? imported.inputSize : 224;
    m.model.classCount = 0;
    m.preprocessing = imported.preprocessing;
    return m;
}

/// The square input a Keras model config fixes; 0 where it leaves it open.
int statedKerasInput(const std::string& modelConfig, const std::string& path) {
    for (const KerasLayer& l : parseKerasModelConfig(modelConfig, path).layers)
        if (l.type == KerasLayerType::Input && l.inputShape.size() == 3 && l.inputShape[0] > 0 &&
            l.inputShape[0] == l.inputShape[1])
            return int(l.inputShape[0]);
    return 0;
}

/// What a Keras model's own file says of it, its output layer's units as the classes.
WeightsMetadata kerasModelMetadata(const std::string& modelConfig, int statedInput,
                                   const std::string& path) {
    WeightsMetadata m;
    m.model.architecture = Architecture::Keras;
    m.model.kerasModel = modelConfig;
    m.model.inputSize = statedInput > 0 ? statedInput : 224;
    const KerasNetworkPlan plan = atBoundary(path, [&] { return planKerasNetwork(m.model); });
    for (const KerasLayer& l : plan.backbone.layers)
        if (l.name == plan.head)
            m.model.classCount = int(l.filters);
    for (int i = 0; i < m.model.classCount; ++i)
        m.classNames.push_back("class_" + std::to_string(i));
    m.model.head = plan.headKind;
    return m;
}

}  // namespace

struct WeightsFile::Impl {
    std::string path;
    WeightsFormat format = WeightsFormat::Hdf5;
    bool withValues = true;
    std::string description;
    std::optional<WeightsMetadata> metadata;
    int statedInputSize = 0;
    KerasWeightsFile keras;  ///< HDF5 files and Keras backbones
    TorchStateDict torch;    ///< .pth files

    /// A Keras network's own file (WeightsFormat::KerasModel): "Keras model (<kind>, Keras
    /// <version><details>)".
    void adoptKerasModel(const std::string& modelConfig, const std::string& kind,
                         const std::string& kerasVersion, const std::string& details,
                         KerasWeightsFile weights) {
        format = WeightsFormat::KerasModel;
        statedInputSize = statedKerasInput(modelConfig, path);
        metadata = kerasModelMetadata(modelConfig, statedInputSize, path);
        description = "Keras model (" + kind +
                      (kerasVersion.empty() ? std::string() : ", Keras " + kerasVersion) + details +
                      ")";
        keras = std::move(weights);
    }
};

const char* weightsFormatName(WeightsFormat format) {
    static const EnumName<WeightsFormat> names[] = {
        {WeightsFormat::Hdf5, "HDF5"},
        {WeightsFormat::TorchPth, "PyTorch state_dict"},
        {WeightsFormat::KerasBackbone, "Keras backbone"},
        {WeightsFormat::KerasModel, "Keras model"}};
    return enumName(format, names);
}

WeightsFormat detectWeightsFormat(const std::string& path) {
    return atBoundary(path, [&] {
        switch (sniff(path)) {
            case Signature::Json: {
                return isKerasBackboneLayers(layerNames(readTfjsModel(path, /*withWeights=*/false)))
                           ? WeightsFormat::KerasBackbone
                           : WeightsFormat::KerasModel;
            }
            case Signature::TorchArchive:
                return isKerasArchive(path) ? WeightsFormat::KerasModel : WeightsFormat::TorchPth;
            case Signature::Hdf5:
                break;
        }
        const KerasWeightsFile file = readKerasWeights(path, /*withValues=*/false);
        if (isKerasBackbone(file))
            return WeightsFormat::KerasBackbone;
        return !file.modelConfig.empty() && !file.metadata.count("model")
                   ? WeightsFormat::KerasModel
                   : WeightsFormat::Hdf5;
    });
}

WeightsFile WeightsFile::open(const std::string& path, Contents contents) {
    return atBoundary(path, [&] {
        auto impl = std::make_unique<Impl>();
        impl->path = path;
        impl->withValues = contents == Contents::Everything;
        switch (sniff(path)) {
            case Signature::Json: {
                TfjsModel model = readTfjsModel(path, impl->withValues);
                if (!isKerasBackboneLayers(layerNames(model))) {
                    impl->adoptKerasModel(model.modelConfig, "TF.js layers model",
                                          model.kerasVersion,
                                          ", " + std::to_string(model.layers.size()) + " layers",
                                          std::move(model.weights));
                    break;
                }
                KerasImport imported = kerasImportFromTfjs(std::move(model), path);
                impl->format = WeightsFormat::KerasBackbone;
                impl->statedInputSize = imported.inputSize;
                impl->metadata = backboneMetadata(imported);
                impl->description = std::move(imported.description);
                impl->keras = std::move(imported.weights);
                break;
            }
            case Signature::TorchArchive: {
                if (isKerasArchive(path)) {
                    KerasArchive archive = readKerasArchive(path, impl->withValues);
                    impl->adoptKerasModel(archive.modelConfig, ".keras archive",
                                          archive.kerasVersion, "", std::move(archive.weights));
                    break;
                }
                impl->format = WeightsFormat::TorchPth;
                impl->torch = readTorchStateDict(path, impl->withValues);
                WeightsMetadata m;
                m.model = torchvisionModelConfig(impl->torch, path);
                for (int i = 0; i < m.model.classCount; ++i)
                    m.classNames.push_back("class_" + std::to_string(i));
                m.preprocessing = torchvisionPreprocessing();
                impl->metadata = std::move(m);
                break;
            }
            case Signature::Hdf5: {
                KerasWeightsFile file = readKerasWeights(path, impl->withValues);
                if (isKerasBackbone(file)) {
                    KerasImport imported = kerasImportFromWeights(std::move(file), path);
                    impl->format = WeightsFormat::KerasBackbone;
                    impl->metadata = backboneMetadata(imported);
                    impl->description = std::move(imported.description);
                    impl->keras = std::move(imported.weights);
                    break;
                }
                if (!file.modelConfig.empty() && !file.metadata.count("model")) {
                    // A whole-model model.save("x.h5") file: its own architecture.
                    const std::string config = file.modelConfig, version = file.kerasVersion;
                    impl->adoptKerasModel(config, "whole-model HDF5", version, "", std::move(file));
                    break;
                }
                impl->format = WeightsFormat::Hdf5;
                impl->metadata = metadataOf(file, path);
                if (impl->metadata)
                    impl->statedInputSize = impl->metadata->model.inputSize;
                impl->keras = std::move(file);
                break;
            }
        }
        return WeightsFile(std::move(impl));
    });
}

WeightsFile::WeightsFile(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
WeightsFile::WeightsFile(WeightsFile&&) noexcept = default;
WeightsFile& WeightsFile::operator=(WeightsFile&&) noexcept = default;
WeightsFile::~WeightsFile() = default;

const std::string& WeightsFile::path() const {
    return m_impl->path;
}

WeightsFormat WeightsFile::format() const {
    return m_impl->format;
}

const std::string& WeightsFile::description() const {
    return m_impl->description;
}

const std::optional<WeightsMetadata>& WeightsFile::metadata() const {
    return m_impl->metadata;
}

int WeightsFile::statedInputSize() const {
    return m_impl->statedInputSize;
}

PretrainedLoad WeightsFile::loadInto(ClassifierImpl& model, KernelLayout layout) const {
    const Impl& f = *m_impl;
    return atBoundary(f.path, [&] {
        if (!f.withValues)
            throw Error(f.path, "was opened for its metadata only; its weights were not read");
        PretrainedLoad out;
        out.format = f.format;
        out.description = f.description;
        if (f.format == WeightsFormat::KerasModel && !dynamic_cast<KerasClassifierImpl*>(&model)) {
            // A built-in network takes what matches by name (a Keras model of the blog net).
            try {
                out.report = loadModelWeights(f.keras, f.path, model, /*byName=*/true, layout);
                return out;
            } catch (const Error& e) {
                throw Error(f.path, e.reason() + "; it holds a " + f.description +
                                        ": train that network itself with --arch " + f.path);
            }
        }
        switch (f.format) {
            case WeightsFormat::Hdf5:
                out.report = loadModelWeights(f.keras, f.path, model, /*byName=*/true, layout);
                break;
            case WeightsFormat::TorchPth:
                out.report = loadTorchvisionWeights(f.torch, model, f.path);
                break;
            case WeightsFormat::KerasBackbone:
            case WeightsFormat::KerasModel:
                out.report = loadBackboneWeights(f.keras, f.path, model, layout);
                break;
        }
        if (f.metadata)
            out.preprocessing = f.metadata->preprocessing;
        return out;
    });
}

}  // namespace convscope
