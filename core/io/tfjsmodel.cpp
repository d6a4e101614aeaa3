#include "io/tfjsmodel.h"

#include "error.h"
#include "util/atomicfile.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>

namespace convscope {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

/// IEEE 754 half -> float, exactly (every half is a float).
float halfToFloat(std::uint16_t h) {
    const std::uint32_t sign = std::uint32_t(h & 0x8000u) << 16;
    std::uint32_t exponent = (h >> 10) & 0x1fu;
    std::uint32_t mantissa = h & 0x3ffu;
    std::uint32_t bits = 0;
    if (exponent == 0x1f) {
        bits = sign | 0x7f800000u | (mantissa << 13);  // infinity, NaN
    } else if (exponent != 0) {
        bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
    } else if (mantissa != 0) {
        // Subnormal half: normalise it into a float.
        exponent = 113;
        while ((mantissa & 0x400u) == 0) {
            mantissa <<= 1;
            --exponent;
        }
        bits = sign | (exponent << 23) | ((mantissa & 0x3ffu) << 13);
    } else {
        bits = sign;
    }
    float f;
    std::memcpy(&f, &bits, sizeof f);
    return f;
}

/// Collects layers depth first; a nested model's layers stand in for it.
void collectLayers(const json& layers, std::vector<TfjsLayer>& out) {
    for (const json& layer : layers) {
        const json& config = layer.at("config");
        const json* inner = nullptr;
        if (config.is_object() && config.contains("layers"))
            inner = &config.at("layers");
        else if (config.is_array())
            inner = &config;
        if (inner) {
            collectLayers(*inner, out);
            continue;
        }
        TfjsLayer l;
        l.className = layer.value("class_name", "");
        l.name = layer.contains("name") ? layer.at("name").get<std::string>()
                                        : config.value("name", std::string());
        out.push_back(std::move(l));
    }
}

/// The first batch_input_shape / batch_shape in the topology, depth first.
const json* findInputShape(const json& j) {
    if (j.is_object()) {
        for (const char* key : {"batch_input_shape", "batch_shape"})
            if (j.contains(key) && j.at(key).is_array() && j.at(key).size() == 4)
                return &j.at(key);
        for (const auto& item : j.items())
            if (const json* found = findInputShape(item.value()))
                return found;
    } else if (j.is_array()) {
        for (const json& item : j)
            if (const json* found = findInputShape(item))
                return found;
    }
    return nullptr;
}

std::size_t bytesPerValue(const std::string& dtype) {
    if (dtype == "float32" || dtype == "int32")
        return 4;
    if (dtype == "uint16" || dtype == "float16")
        return 2;
    if (dtype == "uint8" || dtype == "bool")
        return 1;
    return 0;
}

/// A shard named by model.json, which must be a regular file inside the model's folder: the
/// name comes from the file, and "../../dev/zero" or a symbolic link out must not be read.
fs::path shardInside(const fs::path& folder, const std::string& name, const std::string& path) {
    const fs::path relative = fs::path(name).lexically_normal();
    const auto outside = [&] {
        return Error(path, "weight shard '" + name + "' lies outside the model's folder");
    };
    if (name.empty() || relative.is_absolute() || relative.has_root_name() ||
        (relative.begin() != relative.end() && *relative.begin() == ".."))
        throw outside();
    std::error_code ec;
    const fs::path base = fs::weakly_canonical(folder.empty() ? fs::path(".") : folder, ec);
    const fs::path file = fs::weakly_canonical(folder / relative, ec);
    if (ec)
        throw Error(path, "weight shard '" + name + "' is missing or unreadable");
    const auto [baseEnd, fileAt] =
        std::mismatch(base.begin(), base.end(), file.begin(), file.end());
    if (baseEnd != base.end())
        throw outside();
    if (fs::exists(file, ec) && !fs::is_regular_file(file, ec))
        throw Error(path, "weight shard '" + name + "' is not a regular file");
    return file;
}

std::vector<char> readShards(const json& group, const fs::path& folder, const std::string& path,
                             std::size_t groupIndex) {
    std::vector<char> bytes;
    for (const json& shard : group.at("paths")) {
        const fs::path file = shardInside(folder, shard.get<std::string>(), path);
        std::ifstream in(file, std::ios::binary);
        if (!in)
            throw Error(path, "weight shard " + file.string() + " of group " +
                                  std::to_string(groupIndex + 1) + " is missing or unreadable");
        bytes.insert(bytes.end(), std::istreambuf_iterator<char>(in),
                     std::istreambuf_iterator<char>());
    }
    return bytes;
}

/// Cuts one weights group into arrays, dequantizing as TF.js's decodeWeights does.
void decodeGroup(const json& group, const std::vector<char>& bytes, const std::string& path,
                 std::size_t groupIndex, std::vector<std::pair<std::string, WeightArray>>& out) {
    std::size_t offset = 0;
    for (const json& spec : group.at("weights")) {
        const std::string name = spec.at("name");
        const std::string dtype = spec.at("dtype");
        WeightArray a;
        a.storedName = name;
        const auto slash = name.rfind('/');
        a.name = (slash == std::string::npos ? name : name.substr(slash + 1)) + ":0";
        const json& shape = spec.at("shape");
        if (!shape.is_array())
            throw Error(path, "weight '" + name + "' has a shape that is not a list");
        // Checked one by one: nlohmann converts 4e109 to an integer without a range check.
        for (const json& d : shape) {
            if (!d.is_number_integer())
                throw Error(path, "weight '" + name + "' has a dimension that is not an integer");
            a.shape.push_back(d.get<std::int64_t>());
        }
        std::size_t count = 1;
        for (std::int64_t d : a.shape) {
            if (d < 0)
                throw Error(path, "weight '" + name + "' has a negative dimension");
            if (__builtin_mul_overflow(count, std::size_t(d), &count))
                throw Error(path, "weight '" + name + "' has an impossibly large shape");
        }
        if (dtype != "float32" && dtype != "int32")
            throw Error(path, "weight '" + name + "' has unsupported dtype '" + dtype +
                                  "' (float32 or int32)");
        std::string stored = dtype;
        double scale = 1, minimum = 0;
        if (spec.contains("quantization")) {
            const json& q = spec.at("quantization");
            stored = q.at("dtype");
            if (stored == "uint8" || stored == "uint16") {
                if (!q.contains("scale") || !q.contains("min"))
                    throw Error(path, "weight '" + name + "' is quantized to " + stored +
                                          " without min and scale");
                scale = q.at("scale");
                minimum = q.at("min");
            } else if (stored == "float16" && dtype != "float32") {
                throw Error(path, "weight '" + name +
                                      "' is quantized to float16, which only "
                                      "float32 weights can be");
            } else if (stored != "float16") {
                throw Error(path, "weight '" + name + "' has unknown quantization dtype '" +
                                      stored + "' (uint8, uint16 or float16)");
            }
        }
        std::size_t size = 0;
        if (__builtin_mul_overflow(bytesPerValue(stored), count, &size))
            throw Error(path, "weight '" + name + "' has an impossibly large shape");
        if (size > bytes.size() - offset)
            throw Error(path, "the shards of weights group " + std::to_string(groupIndex + 1) +
                                  " hold " + std::to_string(bytes.size()) + " bytes; weight '" +
                                  name + "' needs bytes " + std::to_string(offset) + " to " +
                                  std::to_string(offset + size) + " (a shard is truncated)");
        const char* p = bytes.data() + offset;
        a.values.resize(count);
        for (std::size_t i = 0; i < count; ++i) {
            if (stored == "uint8" || stored == "uint16") {
                std::uint16_t v = std::uint8_t(p[i]);
                if (stored == "uint16")
                    std::memcpy(&v, p + 2 * i, 2);  // little-endian, as TF.js writes
                const double value = v * scale + minimum;
                a.values[i] = float(dtype == "int32" ? std::round(value) : value);
            } else if (stored == "float16") {
                std::uint16_t v;
                std::memcpy(&v, p + 2 * i, 2);
                a.values[i] = halfToFloat(v);
            } else if (stored == "float32") {
                std::memcpy(&a.values[i], p + 4 * i, 4);
            } else {
                std::int32_t v;
                std::memcpy(&v, p + 4 * i, 4);
                a.values[i] = float(v);
            }
        }
        offset += size;
        const std::string layer = slash == std::string::npos ? name : name.substr(0, slash);
        const auto previous = layer.rfind('/');
        out.emplace_back(previous == std::string::npos ? layer : layer.substr(previous + 1),
                         std::move(a));
    }
    if (offset < bytes.size())
        throw Error(path, "weights group " + std::to_string(groupIndex + 1) + " has " +
                              std::to_string(bytes.size() - offset) +
                              " bytes more than its manifest describes");
}

}  // namespace

bool looksLikeJson(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    char c = 0;
    while (in.get(c))
        if (!std::isspace(static_cast<unsigned char>(c)))
            return c == '{';
    return false;
}

std::vector<std::string> layerNames(const TfjsModel& model) {
    std::vector<std::string> names;
    for (const TfjsLayer& l : model.layers)
        names.push_back(l.name);
    return names;
}

TfjsModel readTfjsModel(const std::string& path, bool withWeights) {
    return atBoundary(path, [&] {
        if (!fs::is_regular_file(path))
            throw Error(path, "no such file");
        TfjsModel model;
        try {
            const json j = json::parse(readTextFile(path));
            if (j.value("format", "") == "graph-model" || !j.contains("modelTopology"))
                throw Error(path,
                            "is not a TF.js layers model (no Keras modelTopology; graph models "
                            "cannot be imported)");
            const json& topology = j.at("modelTopology");
            model.kerasVersion = topology.value("keras_version", "");
            const json& config =
                topology.contains("model_config") ? topology.at("model_config") : topology;
            if (!config.contains("config"))
                throw Error(path, "modelTopology has no Keras model config");
            json standalone = config;  // keeps the Keras version that decides defaults
            if (!standalone.contains("keras_version") && !model.kerasVersion.empty())
                standalone["keras_version"] = model.kerasVersion;
            model.modelConfig = standalone.dump();
            const json& body = config.at("config");
            collectLayers(body.is_array() ? body : body.at("layers"), model.layers);
            if (const json* shape = findInputShape(config)) {
                // 0 for None, and for a number no image side can be (1e300 does not fit an int).
                const auto side = [](const json& v) {
                    const double n = v.is_number() ? v.get<double>() : 0;
                    return n >= 1 && n <= std::numeric_limits<int>::max() ? int(n) : 0;
                };
                model.inputHeight = side((*shape)[1]);
                model.inputWidth = side((*shape)[2]);
            }
            if (!withWeights)
                return model;
            if (!j.contains("weightsManifest"))
                throw Error(path, "has no weightsManifest");
            std::vector<std::pair<std::string, WeightArray>> arrays;
            const fs::path folder = fs::path(path).parent_path();
            const json& manifest = j.at("weightsManifest");
            for (std::size_t g = 0; g < manifest.size(); ++g)
                decodeGroup(manifest[g], readShards(manifest[g], folder, path, g), path, g, arrays);

            // Layers in topology order, then any weights whose layer the topology does not name.
            std::map<std::string, std::size_t> index;
            for (const TfjsLayer& l : model.layers) {
                if (index.count(l.name))
                    continue;
                index[l.name] = model.weights.layers.size();
                model.weights.layers.push_back(LayerWeights{l.name, {}});
            }
            for (auto& [layer, array] : arrays) {
                auto it = index.find(layer);
                if (it == index.end()) {
                    it = index.emplace(layer, model.weights.layers.size()).first;
                    model.weights.layers.push_back(LayerWeights{layer, {}});
                }
                model.weights.layers[it->second].weights.push_back(std::move(array));
            }
            model.weights.kerasVersion = model.kerasVersion;
        } catch (const json::exception& e) {
            throw Error(path, std::string("damaged TF.js model.json (") + e.what() + ")");
        }
        return model;
    });
}

}  // namespace convscope
