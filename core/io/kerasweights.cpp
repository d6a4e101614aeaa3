#include "io/kerasweights.h"

#include "error.h"
#include "io/hdf5heaps.h"
#include "io/kerash5.h"
#include "util/atomicfile.h"
#include "util/text.h"

#include <H5Cpp.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <set>

namespace convscope {

namespace fs = std::filesystem;

using namespace kerash5;

namespace {

std::string withoutFirstComponent(const std::string& stored) {
    const std::size_t slash = stored.find('/');
    return slash == std::string::npos ? stored : stored.substr(slash + 1);
}

std::vector<std::string> readStrings(const H5::Attribute& a, const GlobalHeaps& heaps,
                                     const std::string& path, const std::string& what) {
    const H5::DataSpace space = a.getSpace();
    const hssize_t count = space.getSimpleExtentNpoints();
    if (a.getTypeClass() != H5T_STRING) {
        if (count == 0)
            return {};  // an empty list as Keras writes it (float64, shape (0,))
        throw Error(path, what + " is not text");
    }
    if (count <= 0)
        return {};
    const H5::StrType fileType = a.getStrType();
    // A damaged header can claim any count and length: check before allocating (a variable-
    // length string takes 16 bytes in the file).
    const std::uint64_t elementBytes = fileType.isVariableStr() ? 16 : fileType.getSize();
    if (std::uint64_t(count) > kMaxAttributeBytes / std::max<std::uint64_t>(elementBytes, 1))
        throw Error(path, what + " is implausibly large");
    std::vector<std::string> out;
    if (fileType.isVariableStr()) {
        checkHeapReferences(a, heaps, std::uint64_t(count), path, what);
        H5::StrType memoryType(H5::PredType::C_S1, H5T_VARIABLE);
        memoryType.setCset(fileType.getCset());
        std::vector<char*> pointers(std::size_t(count), nullptr);
        a.read(memoryType, pointers.data());
        for (const char* p : pointers)
            out.emplace_back(p ? p : "");
#if H5_VERSION_GE(1, 12, 0)
        H5Treclaim(memoryType.getId(), space.getId(), H5P_DEFAULT, pointers.data());
#else
        H5Dvlen_reclaim(memoryType.getId(), space.getId(), H5P_DEFAULT, pointers.data());
#endif
        return out;
    }
    const std::size_t size = fileType.getSize();
    const bool spacePadded = fileType.getStrpad() == H5T_STR_SPACEPAD;
    std::vector<char> buffer(std::size_t(count) * size);
    a.read(fileType, buffer.data());
    for (hssize_t i = 0; i < count; ++i) {
        std::string s(buffer.data() + std::size_t(i) * size, size);
        s.resize(std::min(s.find('\0'), s.size()));
        if (spacePadded)
            s.erase(s.find_last_not_of(' ') + 1);
        out.push_back(std::move(s));
    }
    return out;
}

// One text value: a string, or a number someone wrote with h5py (f.attrs[...] = 224).
std::string readText(const H5::Attribute& a, const GlobalHeaps& heaps, const std::string& path,
                     const std::string& what) {
    const H5T_class_t type = a.getTypeClass();
    if (type == H5T_INTEGER || type == H5T_FLOAT) {
        if (a.getSpace().getSimpleExtentNpoints() != 1)
            throw Error(path, what + " is not one value");
        char text[32];
        std::to_chars_result r;
        if (type == H5T_INTEGER) {
            long long value = 0;
            a.read(H5::PredType::NATIVE_LLONG, &value);
            r = std::to_chars(text, text + sizeof text, value);
        } else {
            double value = 0;
            a.read(H5::PredType::NATIVE_DOUBLE, &value);
            r = std::to_chars(text, text + sizeof text, value);
        }
        return std::string(text, r.ptr);
    }
    const std::vector<std::string> strings = readStrings(a, heaps, path, what);
    if (strings.size() != 1)
        throw Error(path, what + " is not one text");
    return strings.front();
}

std::string readOptionalText(const H5::H5Object& where, const std::string& attribute,
                             const GlobalHeaps& heaps, const std::string& path) {
    if (!where.attrExists(attribute))
        return {};
    return readText(where.openAttribute(attribute), heaps, path, "attribute " + attribute);
}

// Keras's load_attributes_from_hdf5_group: "name", or the parts "name0", "name1", ...
std::optional<std::vector<std::string>> readNameList(const H5::H5Object& where,
                                                     const std::string& attribute,
                                                     const GlobalHeaps& heaps,
                                                     const std::string& path,
                                                     const std::string& what) {
    if (where.attrExists(attribute))
        return readStrings(where.openAttribute(attribute), heaps, path, what + attribute);
    if (!where.attrExists(attribute + "0"))
        return std::nullopt;
    std::vector<std::string> all;
    for (int k = 0; where.attrExists(attribute + std::to_string(k)); ++k) {
        const std::string part = attribute + std::to_string(k);
        const std::vector<std::string> names =
            readStrings(where.openAttribute(part), heaps, path, what + part);
        all.insert(all.end(), names.begin(), names.end());
    }
    return all;
}

// Why a group or dataset named in a name list did not open, in words.
std::string cannotOpen(const std::string& kind, const std::string& message) {
    if (message == "component not found" || message.find("doesn't exist") != std::string::npos)
        return "there is no such " + kind;
    return "its " + kind + " is damaged (" + message + ")";
}

WeightArray readArray(const H5::Group& group, const std::string& layer, const std::string& stored,
                      const std::string& path, const Hdf5Diagnostics& diagnostics,
                      bool withValues) {
    const std::string what = "layer " + quoted(layer) + ", weight " + quoted(stored);
    WeightArray weight;
    weight.storedName = stored;
    weight.name = withoutFirstComponent(stored);
    H5::DataSet data;
    try {
        data = group.openDataSet(stored);
    } catch (const H5::Exception& e) {
        throw Error(path, what + ": listed in weight_names, but " +
                              cannotOpen("dataset", diagnostics.lastOr(e)));
    }
    try {
        const H5T_class_t type = data.getTypeClass();
        if (type != H5T_FLOAT && type != H5T_INTEGER)
            throw Error(path, what + ": not a numeric array");
        const H5::DataSpace space = data.getSpace();
        if (space.getSimpleExtentType() == H5S_NULL)
            throw Error(path, what + ": holds no data");
        std::vector<hsize_t> dims(std::size_t(std::max(space.getSimpleExtentNdims(), 0)));
        if (!dims.empty())
            space.getSimpleExtentDims(dims.data());
        std::uint64_t count = 1;
        for (hsize_t d : dims) {
            if (d > 0 && count > kMaxElements / d)
                throw Error(path, what + ": implausibly large array");
            count *= d;
            weight.shape.push_back(std::int64_t(d));
        }
        if (!withValues)
            return weight;
        weight.values.resize(count);
        // HDF5 converts float16, float64 and integers to float as it reads.
        if (count > 0)
            data.read(weight.values.data(), H5::PredType::NATIVE_FLOAT);
    } catch (const H5::Exception& e) {
        throw Error(path, what + ": cannot read (" + diagnostics.lastOr(e) + ")");
    }
    return weight;
}

void checkReadable(const std::string& path) {
    std::error_code ec;
    const fs::file_status status = fs::status(path, ec);
    if (status.type() == fs::file_type::not_found)
        throw Error(path, "file not found");
    if (ec)
        throw Error(path, "cannot access (" + ec.message() + ")");
    if (fs::is_directory(status))
        throw Error(path, "is a folder, not a weights file");
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw Error(path, std::string("cannot open (") + std::strerror(errno) + ")");
    if (in.peek() == std::ifstream::traits_type::eof())
        throw Error(path, "empty file (0 bytes)");
#if H5_VERSION_GE(1, 12, 0)
    const htri_t isHdf5 = H5Fis_accessible(path.c_str(), H5P_DEFAULT);
#else
    const htri_t isHdf5 = H5Fis_hdf5(path.c_str());
#endif
    if (isHdf5 <= 0)
        throw Error(path, "not an HDF5 file (no HDF5 signature)");
}

std::string openFailure(const std::string& message) {
    unsigned long long eof = 0, base = 0, stored = 0;
    if (std::sscanf(message.c_str(),
                    "truncated file: eof = %llu, sblock->base_addr = %llu, stored_eof = %llu", &eof,
                    &base, &stored) == 3) {
        return "truncated HDF5 file (" + std::to_string(eof) + " of " + std::to_string(stored) +
               " bytes)";
    }
    return "damaged HDF5 file (" + message + ")";
}

// Keras 3's save_weights("x.weights.h5"): "layers/<path>/vars/0", ".../1", ... in the layer's
// order, the path named after the class ("conv2d_1") and the layer's own name in the vars
// group's attribute "name". The arrays have no names: they are named by their index.
void readKeras3Layers(const H5::H5File& h5, const GlobalHeaps& heaps, const std::string& path,
                      const Hdf5Diagnostics& diagnostics, bool withValues, KerasWeightsFile& file) {
    const H5::Group layers = h5.openGroup("layers");
    for (hsize_t i = 0, n = layers.getNumObjs(); i < n; ++i) {
        const std::string child = layers.getObjnameByIdx(i);
        if (layers.childObjType(child) != H5O_TYPE_GROUP)
            continue;
        const H5::Group group = layers.openGroup(child);
        if (!group.nameExists("vars"))
            continue;
        const H5::Group vars = group.openGroup("vars");
        LayerWeights layer;
        layer.name = vars.attrExists("name") ? readText(vars.openAttribute("name"), heaps, path,
                                                        "layers/" + child + "/vars: attribute name")
                                             : child;
        for (int k = 0; vars.nameExists(std::to_string(k)); ++k)
            layer.weights.push_back(
                readArray(vars, layer.name, std::to_string(k), path, diagnostics, withValues));
        file.layers.push_back(std::move(layer));
    }
    file.kerasVersion = "3";
    file.backend.clear();
}

KerasWeightsFile readContents(const std::string& path, const Hdf5Diagnostics& diagnostics,
                              bool withValues) {
    std::optional<H5::H5File> h5;
    try {
        h5.emplace(path, H5F_ACC_RDONLY, H5::FileCreatPropList::DEFAULT, fileAccess());
    } catch (const H5::Exception& e) {
        throw Error(path, openFailure(diagnostics.lastOr(e)));
    }
    std::size_t offsetBytes = 0, lengthBytes = 0;
    const H5::FileCreatPropList creation = h5->getCreatePlist();
    creation.getSizes(offsetBytes, lengthBytes);
    const GlobalHeaps heaps = readGlobalHeaps(path, kMaxAttributeBytes, offsetBytes, lengthBytes,
                                              creation.getUserblock());
    KerasWeightsFile file;
    for (int i = 0, n = h5->getNumAttrs(); i < n; ++i) {
        const H5::Attribute a = h5->openAttribute(unsigned(i));
        const std::string name = a.getName();
        if (name.rfind(kMetadataPrefix, 0) == 0)
            file.metadata[name.substr(std::strlen(kMetadataPrefix))] =
                readText(a, heaps, path, "metadata " + name);
    }

    // A whole-model file (model.save("x.h5")) keeps the same layout in "model_weights", and
    // its architecture in model_config.
    H5::Group weights = h5->openGroup("/");
    file.modelConfig = readOptionalText(weights, "model_config", heaps, path);
    std::optional<std::vector<std::string>> layerNames =
        readNameList(weights, "layer_names", heaps, path, "attribute ");
    if (!layerNames && h5->nameExists("model_weights")) {
        weights = h5->openGroup("model_weights");
        layerNames = readNameList(weights, "layer_names", heaps, path, "attribute model_weights/");
    }
    if (!layerNames && h5->nameExists("layers") && h5->childObjType("layers") == H5O_TYPE_GROUP) {
        readKeras3Layers(*h5, heaps, path, diagnostics, withValues, file);
        return file;
    }
    if (!layerNames)
        throw Error(path, "not a Keras weights file (no layer_names attribute)");
    file.kerasVersion = readOptionalText(weights, "keras_version", heaps, path);
    file.backend = readOptionalText(weights, "backend", heaps, path);

    for (const std::string& name : *layerNames) {
        LayerWeights layer;
        layer.name = name;
        H5::Group group;
        try {
            group = weights.openGroup(name);
        } catch (const H5::Exception& e) {
            throw Error(path, "layer " + quoted(name) + " is listed in layer_names, but " +
                                  cannotOpen("group", diagnostics.lastOr(e)));
        }
        const std::vector<std::string> stored =
            readNameList(group, "weight_names", heaps, path,
                         "layer " + quoted(name) + ": attribute ")
                .value_or(std::vector<std::string>{});
        for (const std::string& s : stored)
            layer.weights.push_back(readArray(group, name, s, path, diagnostics, withValues));
        file.layers.push_back(std::move(layer));
    }
    return file;
}

}  // namespace

KerasWeightsFile readKerasWeights(const std::string& path, bool withValues) {
    return atBoundary(path, [&] {
        const std::lock_guard<std::mutex> lock(hdf5Mutex());
        const Hdf5Diagnostics diagnostics;
        checkReadable(path);
        try {
            return readContents(path, diagnostics, withValues);
        } catch (const H5::Exception& e) {
            throw Error(path, "damaged HDF5 file (" + diagnostics.lastOr(e) + ")");
        } catch (const std::bad_alloc&) {
            throw Error(path, "damaged HDF5 file (an array too large for memory)");
        }
    });
}

}  // namespace convscope
