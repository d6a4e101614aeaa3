// Writing Keras's save_weights HDF5 layout (writeKerasWeights in io/kerasweights.h).
#include "io/kerasweights.h"

#include "error.h"
#include "io/kerash5.h"
#include "util/atomicfile.h"
#include "util/text.h"

#include <H5Cpp.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>

namespace convscope {

namespace fs = std::filesystem;
using namespace kerash5;

namespace {

std::string storedNameOf(const LayerWeights& layer, const WeightArray& weight) {
    return weight.storedName.empty() ? layer.name + "/" + weight.name : weight.storedName;
}

void checkNames(const KerasWeightsFile& file, const std::string& path) {
    std::set<std::string> layers;
    for (const LayerWeights& layer : file.layers) {
        if (layer.name.empty())
            throw Error(path, "a layer has an empty name");
        if (layer.name.find('/') != std::string::npos || !isValidPath(layer.name))
            throw Error(path,
                        "layer name " + quoted(layer.name) + " is not usable as a group name");
        if (layer.name == kTopLevelGroup)
            throw Error(path, "layer name " + quoted(layer.name) + " is reserved by Keras");
        if (!layers.insert(layer.name).second)
            throw Error(path, "two layers are named " + quoted(layer.name));
        std::set<std::string> weights;
        for (const WeightArray& weight : layer.weights) {
            const std::string stored = storedNameOf(layer, weight);
            if (weight.storedName.empty() ? !isValidPath(weight.name) : !isValidPath(stored))
                throw Error(path, "layer " + quoted(layer.name) + ": weight name " +
                                      quoted(stored) + " is not usable as a dataset path");
            if (!weights.insert(stored).second)
                throw Error(path, "layer " + quoted(layer.name) + " has two weights named " +
                                      quoted(stored));
        }
    }
    for (const auto& [key, value] : file.metadata) {
        if (key.empty())
            throw Error(path, "a metadata entry has an empty key");
        if (value.find('\0') != std::string::npos)
            throw Error(path, "metadata " + quoted(key) + " contains a NUL character");
    }
}

void writeFixedStrings(const H5::H5Object& where, const std::string& attribute,
                       const std::vector<std::string>& names, std::size_t itemSize) {
    H5::StrType type(H5::PredType::C_S1, itemSize);
    type.setStrpad(H5T_STR_NULLPAD);
    type.setCset(H5T_CSET_ASCII);
    const hsize_t count = names.size();
    std::vector<char> buffer(names.size() * itemSize, '\0');
    for (std::size_t i = 0; i < names.size(); ++i)
        std::memcpy(buffer.data() + i * itemSize, names[i].data(), names[i].size());
    H5::Attribute a = where.createAttribute(attribute, type, H5::DataSpace(1, &count));
    a.write(type, buffer.data());
}

// Keras's save_attributes_to_hdf5_group: numpy fixed-length byte strings ('S<longest>'),
// split like numpy.array_split into the fewest parts that each fit in an object header.
void writeNameList(const H5::H5Object& where, const std::string& attribute,
                   const std::vector<std::string>& names, const std::string& path) {
    if (names.empty()) {
        // What numpy makes of an empty list, and so what Keras writes: float64, shape (0,).
        const hsize_t zero = 0;
        where.createAttribute(attribute, H5::PredType::IEEE_F64LE, H5::DataSpace(1, &zero));
        return;
    }
    std::size_t itemSize = 1;
    for (const std::string& name : names) {
        if (name.size() > kObjectHeaderLimit)
            throw Error(path, "name too long for an HDF5 attribute (" +
                                  std::to_string(name.size()) + " bytes): " + name.substr(0, 40));
        itemSize = std::max(itemSize, name.size());
    }
    std::size_t parts = 1;
    while ((names.size() + parts - 1) / parts * itemSize > kObjectHeaderLimit)
        ++parts;
    if (parts == 1) {
        writeFixedStrings(where, attribute, names, itemSize);
        return;
    }
    std::size_t begin = 0;
    for (std::size_t k = 0; k < parts; ++k) {
        const std::size_t size = names.size() / parts + (k < names.size() % parts ? 1 : 0);
        const std::vector<std::string> part(names.begin() + begin, names.begin() + begin + size);
        writeFixedStrings(where, attribute + std::to_string(k), part, itemSize);
        begin += size;
    }
}

// A scalar fixed-length string, as numpy 'S<n>' scalars (Keras's backend and keras_version)
// are stored. Values longer than an object header allows go to the global heap instead, as
// variable-length strings; the global heap is avoided otherwise because HDF5 1.10 crashes or
// hangs on a damaged one rather than reporting an error.
void writeString(const H5::H5Object& where, const std::string& attribute, const std::string& text,
                 H5T_cset_t cset) {
    if (text.size() > kObjectHeaderLimit) {
        H5::StrType type(H5::PredType::C_S1, H5T_VARIABLE);
        type.setCset(cset);
        H5::Attribute a = where.createAttribute(attribute, type, H5::DataSpace(H5S_SCALAR));
        const char* data = text.c_str();
        a.write(type, &data);
        return;
    }
    std::string buffer = text;
    buffer.resize(std::max<std::size_t>(text.size(), 1), '\0');
    H5::StrType type(H5::PredType::C_S1, buffer.size());
    type.setStrpad(H5T_STR_NULLPAD);
    type.setCset(cset);
    H5::Attribute a = where.createAttribute(attribute, type, H5::DataSpace(H5S_SCALAR));
    a.write(type, buffer.data());
}

void writeArray(const H5::Group& group, const std::string& layer, const std::string& stored,
                const WeightArray& weight, const std::string& path) {
    const std::string what = "layer " + quoted(layer) + ", weight " + quoted(stored);
    std::uint64_t count = 1;
    for (std::int64_t d : weight.shape) {
        if (d < 0)
            throw Error(path, what + ": negative dimension in shape " + shapeText(weight.shape));
        if (d > 0 && count > kMaxElements / std::uint64_t(d))
            throw Error(path, what + ": shape " + shapeText(weight.shape) + " is too large");
        count *= std::uint64_t(d);
    }
    if (count != weight.values.size()) {
        throw Error(path, what + ": " + std::to_string(weight.values.size()) +
                              " values for shape " + shapeText(weight.shape) + " (" +
                              std::to_string(count) + " expected)");
    }
    const std::vector<hsize_t> dims(weight.shape.begin(), weight.shape.end());
    const H5::DataSpace space =
        dims.empty() ? H5::DataSpace(H5S_SCALAR) : H5::DataSpace(int(dims.size()), dims.data());
    H5::LinkCreatPropList links;
    links.setCreateIntermediateGroup(true);  // "conv/kernel:0" is a group and a dataset
    try {
        H5::DataSet data = group.createDataSet(stored, H5::PredType::IEEE_F32LE, space,
                                               H5::DSetCreatPropList::DEFAULT,
                                               H5::DSetAccPropList::DEFAULT, links);
        if (count > 0)
            data.write(weight.values.data(), H5::PredType::NATIVE_FLOAT);
    } catch (const H5::Exception& e) {
        throw Error(path, what + ": cannot write (" + e.getDetailMsg() + ")");
    }
}

void writeContents(const std::string& tempPath, const std::string& path,
                   const KerasWeightsFile& file) {
    // Built in memory, then written with checked writes: HDF5 1.10 crashes closing a file
    // whose write failed (a full disk), and prints to stderr from its C++ destructors.
    H5::FileAccPropList inMemory;
    inMemory.setCore(1 << 20, /*backing_store=*/false);
    H5::H5File h5(tempPath, H5F_ACC_TRUNC, H5::FileCreatPropList::DEFAULT, inMemory);
    std::vector<std::string> layerNames;
    for (const LayerWeights& layer : file.layers)
        layerNames.push_back(layer.name);
    writeNameList(h5, "layer_names", layerNames, path);
    writeString(h5, "backend", file.backend, H5T_CSET_ASCII);
    writeString(h5, "keras_version", file.kerasVersion, H5T_CSET_ASCII);
    for (const auto& [key, value] : file.metadata)
        writeString(h5, kMetadataPrefix + key, value, H5T_CSET_UTF8);

    // Keras creates the groups sorted by name, "so that no group name is a prefix of one
    // created before it"; layer_names keeps the model order.
    std::vector<const LayerWeights*> sorted;
    for (const LayerWeights& layer : file.layers)
        sorted.push_back(&layer);
    std::sort(sorted.begin(), sorted.end(),
              [](const LayerWeights* a, const LayerWeights* b) { return a->name < b->name; });
    for (const LayerWeights* layer : sorted) {
        const H5::Group group = h5.createGroup(layer->name);
        std::vector<std::string> stored;
        for (const WeightArray& weight : layer->weights)
            stored.push_back(storedNameOf(*layer, weight));
        writeNameList(group, "weight_names", stored, path);
        for (std::size_t i = 0; i < stored.size(); ++i)
            writeArray(group, layer->name, stored[i], layer->weights[i], path);
    }
    // Keras 2.11 also saves the model's own weights (none in a functional model) here, and
    // loads them from here if the group exists.
    const H5::Group topLevel = h5.createGroup(kTopLevelGroup);
    writeNameList(topLevel, "weight_names", {}, path);
    h5.flush(H5F_SCOPE_GLOBAL);
    const ssize_t size = H5Fget_file_image(h5.getId(), nullptr, 0);
    if (size <= 0)
        throw Error(path, "cannot write (HDF5 gave no file image)");
    std::vector<char> image(static_cast<std::size_t>(size));
    if (H5Fget_file_image(h5.getId(), image.data(), image.size()) != size)
        throw Error(path, "cannot write (HDF5 gave a short file image)");
    h5.close();
    FileWriter out(tempPath, path);
    out.write(image.data(), image.size());
    out.finish();
}

}  // namespace

void writeKerasWeights(const std::string& path, const KerasWeightsFile& file) {
    atBoundary(path, [&] {
        const std::lock_guard<std::mutex> lock(hdf5Mutex());
        const Hdf5Diagnostics diagnostics;
        checkNames(file, path);
        const fs::path target(path);
        const fs::path folder = target.has_parent_path() ? target.parent_path() : fs::path(".");
        std::error_code ec;
        if (!fs::is_directory(folder, ec))
            throw Error(path, "the folder does not exist");
        if (fs::is_directory(target, ec))
            throw Error(path, "is a folder");
        replaceFileAtomically(path, [&](const std::string& tempPath) {
            try {
                writeContents(tempPath, path, file);
            } catch (const H5::Exception& e) {
                throw Error(path, "cannot write (" + diagnostics.lastOr(e) + ")");
            }
        });
    });
}

}  // namespace convscope
