#include "io/kerasweights.h"

#include "error.h"
#include "io/hdf5heaps.h"
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

namespace {

// Past this many bytes Keras splits a name list over "name0", "name1", ...: data in an object
// header (where h5py's default file format keeps attributes) must stay under 64 KiB.
constexpr std::size_t kObjectHeaderLimit = 64512;
constexpr const char* kMetadataPrefix = "convscope_";
constexpr const char* kTopLevelGroup = "top_level_model_weights";
// A corrupt header can claim any shape; refuse before allocating rather than be killed.
constexpr std::uint64_t kMaxElements = std::uint64_t(1) << 31;
// Likewise for a text attribute; Keras splits name lists long before this.
constexpr std::uint64_t kMaxAttributeBytes = std::uint64_t(64) << 20;

// HDF5's C++ objects are not safe to share between threads, and the C library is built with
// its own lock on some systems only.
std::mutex& hdf5Mutex() {
    static std::mutex mutex;
    return mutex;
}

/// For the duration of one call: HDF5 prints nothing, and the innermost message of the last
/// failure is kept (the C++ API's exceptions only say "H5Fopen failed").
class Hdf5Diagnostics {
public:
    Hdf5Diagnostics() {
        H5Eget_auto2(H5E_DEFAULT, &m_oldHandler, &m_oldData);
        H5Eset_auto2(H5E_DEFAULT, &Hdf5Diagnostics::record, this);
    }
    ~Hdf5Diagnostics() { H5Eset_auto2(H5E_DEFAULT, m_oldHandler, m_oldData); }
    Hdf5Diagnostics(const Hdf5Diagnostics&) = delete;
    Hdf5Diagnostics& operator=(const Hdf5Diagnostics&) = delete;

    std::string lastOr(const H5::Exception& e) const {
        return m_message.empty() ? e.getDetailMsg() : m_message;
    }

private:
    static herr_t record(hid_t stack, void* self) {
        std::string message;
        H5Ewalk2(stack, H5E_WALK_UPWARD, &Hdf5Diagnostics::innermost, &message);
        static_cast<Hdf5Diagnostics*>(self)->m_message = message;
        return 0;
    }
    static herr_t innermost(unsigned n, const H5E_error2_t* error, void* message) {
        if (n == 0 && error->desc)
            *static_cast<std::string*>(message) = error->desc;
        return 0;
    }

    H5E_auto2_t m_oldHandler = nullptr;
    void* m_oldData = nullptr;
    std::string m_message;
};

H5::FileAccPropList fileAccess() {
    H5::FileAccPropList fapl;
    fapl.setFcloseDegree(H5F_CLOSE_STRONG);
#if H5_VERSION_GE(1, 10, 7)
    // Lock where the file system can (another program writing the file), carry on where it
    // cannot (some network drives) instead of failing.
    fapl.setFileLocking(true, true);
#endif
    return fapl;
}

std::string quoted(const std::string& text) {
    return "'" + text + "'";
}

bool isValidPath(const std::string& name) {
    if (name.empty())
        return false;
    std::size_t begin = 0;
    while (true) {
        const std::size_t end = std::min(name.find('/', begin), name.size());
        const std::string part = name.substr(begin, end - begin);
        if (part.empty() || part == "." || part == "..")
            return false;
        if (end == name.size())
            return true;
        begin = end + 1;
    }
}

// ----- writing

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

// ----- reading

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

    // A whole-model file (model.save("x.h5")) keeps the same layout in "model_weights".
    H5::Group weights = h5->openGroup("/");
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
