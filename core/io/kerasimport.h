#pragma once

#include "io/kerasweights.h"
#include "io/tfjsmodel.h"
#include "models/modelconfig.h"
#include "models/preprocessing.h"

#include <string>

namespace convscope {

/// An ImageNet backbone from Keras (an HDF5 weights file or a TF.js layers model) and the
/// ConvScope model it fits.
struct KerasImport {
    std::string description;  ///< "Keras MobileNetV2 (TF.js layers model, Keras 2.2.4, 224x224)"
    Architecture architecture = Architecture::Vgg16;
    Flavour flavour = Flavour::Standard;  ///< Keras for MobileNetV2
    int inputSize = 0;                    ///< from the file's input layer; 0 when it says nothing
    Preprocessing preprocessing;          ///< the origin's: "caffe" for VGG16, "tf" for MobileNetV2
    KerasWeightsFile weights;             ///< Keras layout and names
};

/// Reads a Keras backbone: a TF.js layers `model.json` (with its shards unless `withWeights`
/// is false) or a Keras HDF5 weights file without ConvScope metadata (save_weights layout,
/// including Keras's original applications files such as
/// vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5). The architecture is recognised by the
/// layer names: VGG16 (block1_conv1 ... block5_conv3) and MobileNetV2 alpha 1.0 (Conv1,
/// bn_Conv1, expanded_conv_*, block_1_* ... block_16_*, Conv_1, Conv_1_bn). Throws
/// convscope::Error naming the file, e.g. for another architecture (the message lists the
/// layers expected) or a damaged file.
KerasImport readKerasImport(const std::string& path, bool withWeights = true);

/// The backbone in a Keras HDF5 file already read (its layers, description and weights).
/// Throws convscope::Error naming `path` when its layers are no supported architecture.
KerasImport kerasImportFromWeights(KerasWeightsFile file, const std::string& path);

/// The backbone of a TF.js layers model already read. Throws convscope::Error naming `path`
/// when its layers are no supported architecture.
KerasImport kerasImportFromTfjs(TfjsModel model, const std::string& path);

/// Whether layers of these names are a Keras backbone ConvScope builds itself (VGG16,
/// MobileNetV2). Never throws.
bool isKerasBackboneLayers(const std::vector<std::string>& names);

/// Whether `file` is a Keras backbone: no ConvScope metadata, and the layers of VGG16 or
/// MobileNetV2. Never throws.
bool isKerasBackbone(const KerasWeightsFile& file);

}  // namespace convscope
