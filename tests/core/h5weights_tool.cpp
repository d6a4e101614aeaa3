// Test helper for kerasweights_h5py.py: writes a sample weights file, or dumps one as JSON
// lines, so that Python (h5py) can check both directions of the Keras layout.

#include "io/kerasweights.h"

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>

using namespace convscope;

namespace {

// Small multiples of 1/64: exact in float32, and easy to recompute in Python.
WeightArray sampleArray(const std::string& name, std::vector<std::int64_t> shape, int seed) {
    WeightArray a;
    a.name = name;
    a.shape = std::move(shape);
    std::int64_t count = 1;
    for (auto d : a.shape)
        count *= d;
    for (std::int64_t i = 0; i < count; ++i)
        a.values.push_back(float((i * 37 + seed * 11) % 101 - 50) / 64.0f);
    return a;
}

void writeSample(const std::string& path, int extraLayers) {
    KerasWeightsFile file;
    file.layers.push_back(
        {"block1_conv1",
         {sampleArray("kernel:0", {3, 3, 3, 4}, 1), sampleArray("bias:0", {4}, 2)}});
    file.layers.push_back(
        {"block1_bn",
         {sampleArray("gamma:0", {4}, 3), sampleArray("beta:0", {4}, 4),
          sampleArray("moving_mean:0", {4}, 5), sampleArray("moving_variance:0", {4}, 6)}});
    file.layers.push_back({"block1_pool", {}});
    file.layers.push_back({"flatten", {}});
    for (int i = 0; i < extraLayers; ++i)
        file.layers.push_back({"extra_identity_layer_" + std::to_string(i), {}});
    file.layers.push_back(
        {"predictions", {sampleArray("kernel:0", {12, 3}, 7), sampleArray("bias:0", {3}, 8)}});
    file.metadata["architecture"] = "small_cnn";
    file.metadata["class_names"] = R"(["cat","dog","émeu"])";
    file.metadata["input_size"] = "32";
    file.metadata["preprocessing"] = R"({"name":"rescale","rescale":0.00392156862745098})";
    writeKerasWeights(path, file);
}

void dump(const std::string& path) {
    const KerasWeightsFile file = readKerasWeights(path);
    std::cout << nlohmann::json{{"keras_version", file.kerasVersion},
                                {"backend", file.backend},
                                {"metadata", file.metadata},
                                {"layer_count", file.layers.size()}}
                     .dump()
              << "\n";
    for (const LayerWeights& layer : file.layers) {
        nlohmann::json weights = nlohmann::json::array();
        for (const WeightArray& w : layer.weights) {
            double sum = 0;
            for (float v : w.values)
                sum += v;
            weights.push_back({{"name", w.name},
                               {"stored_name", w.storedName},
                               {"shape", w.shape},
                               {"sum", sum},
                               {"values", w.values}});
        }
        std::cout << nlohmann::json{{"layer", layer.name}, {"weights", weights}}.dump() << "\n";
    }
}

}  // namespace

int main(int argc, char** argv) {
    const std::string command = argc > 1 ? argv[1] : "";
    try {
        if (command == "write-sample" && (argc == 3 || argc == 4)) {
            writeSample(argv[2], argc == 4 ? std::atoi(argv[3]) : 0);
            return 0;
        }
        if (command == "dump" && argc == 3) {
            dump(argv[2]);
            return 0;
        }
    } catch (const std::exception& e) {
        std::cerr << "h5weights_tool: " << e.what() << "\n";
        return 1;
    }
    std::cerr << "usage: h5weights_tool write-sample OUT.h5 [EXTRA_LAYERS]\n"
                 "       h5weights_tool dump IN.h5\n";
    return 2;
}
