#include "io/kerasimport.h"

#include "error.h"
#include "io/tfjsmodel.h"

#include <algorithm>

namespace convscope {

namespace {

bool has(const std::vector<std::string>& names, const char* name) {
    return std::find(names.begin(), names.end(), name) != names.end();
}

/// Sets architecture, flavour and preprocessing from the layer names, or throws.
void recognise(const std::vector<std::string>& names, const std::string& path, KerasImport& out) {
    if (has(names, "Conv1") && has(names, "bn_Conv1") && has(names, "block_16_project")) {
        out.architecture = Architecture::MobileNetV2;
        out.flavour = Flavour::Keras;
        out.preprocessing = tfPreprocessing();
        return;
    }
    if (has(names, "block1_conv1") && has(names, "block5_conv3") && !has(names, "block5_conv4")) {
        out.architecture = Architecture::Vgg16;
        out.flavour = Flavour::Standard;
        out.preprocessing = caffePreprocessing();
        return;
    }
    std::string found;
    for (std::size_t i = 0; i < names.size() && i < 6; ++i)
        found += (i ? ", " : "") + names[i];
    if (names.size() > 6)
        found += ", ... (" + std::to_string(names.size()) + " layers)";
    throw Error(path,
                "not a supported Keras architecture: expected the layers of Keras's MobileNetV2 "
                "(Conv1, bn_Conv1, expanded_conv_depthwise, expanded_conv_project, "
                "block_1_expand ... block_16_project, Conv_1, Conv_1_bn) or VGG16 "
                "(block1_conv1 ... block5_conv3); the file has " +
                    (found.empty() ? std::string("no layers") : found));
}

std::vector<std::string> layerNames(const KerasWeightsFile& file) {
    std::vector<std::string> names;
    for (const LayerWeights& l : file.layers)
        names.push_back(l.name);
    return names;
}

const char* architectureTitle(Architecture a) {
    return a == Architecture::MobileNetV2 ? "MobileNetV2" : "VGG16";
}

}  // namespace

KerasImport readKerasImport(const std::string& path, bool withWeights) {
    return atBoundary(path, [&] {
        if (looksLikeJson(path))
            return kerasImportFromTfjs(readTfjsModel(path, withWeights), path);
        KerasWeightsFile file = readKerasWeights(path, withWeights);
        if (file.metadata.count("model"))
            throw Error(path, "is a ConvScope weight file, not a Keras backbone");
        return kerasImportFromWeights(std::move(file), path);
    });
}

KerasImport kerasImportFromTfjs(TfjsModel model, const std::string& path) {
    KerasImport out;
    recognise(layerNames(model), path, out);
    if (model.inputHeight > 0 && model.inputHeight == model.inputWidth)
        out.inputSize = model.inputHeight;
    out.description =
        std::string("Keras ") + architectureTitle(out.architecture) + " (TF.js layers model" +
        (model.kerasVersion.empty() ? "" : ", Keras " + model.kerasVersion) +
        (out.inputSize
             ? ", " + std::to_string(out.inputSize) + "x" + std::to_string(out.inputSize) + " input"
             : "") +
        ")";
    out.weights = std::move(model.weights);
    return out;
}

bool isKerasBackboneLayers(const std::vector<std::string>& names) {
    KerasImport probe;
    try {
        recognise(names, "", probe);
        return true;
    } catch (const Error&) {
        return false;
    }
}

KerasImport kerasImportFromWeights(KerasWeightsFile file, const std::string& path) {
    KerasImport out;
    recognise(layerNames(file), path, out);
    out.description = std::string("Keras ") + architectureTitle(out.architecture) +
                      " (HDF5 weights" +
                      (file.kerasVersion.empty() ? "" : ", Keras " + file.kerasVersion) + ")";
    out.weights = std::move(file);
    return out;
}

bool isKerasBackbone(const KerasWeightsFile& file) {
    if (file.metadata.count("model"))
        return false;
    return isKerasBackboneLayers(layerNames(file));
}

}  // namespace convscope
