#pragma once

#include "io/modelweights.h"

#include <optional>
#include <string>

namespace convscope {

/// The weight files ConvScope reads, told apart by their first bytes.
enum class WeightsFormat {
    Hdf5,      ///< ConvScope's or Keras's save_weights layout
    TorchPth,  ///< torch.save(model.state_dict()) of a torchvision model
};

const char* weightsFormatName(WeightsFormat format);  ///< "HDF5", "PyTorch state_dict"

/// The format of `path` by signature (HDF5's, at offset 0 or in a user block; a zip archive's;
/// a pickle's, which the .pth reader explains as a legacy file). Throws convscope::Error(path,
/// reason) for a file that cannot be read or has none of these signatures.
WeightsFormat detectWeightsFormat(const std::string& path);

/// What loading weights from any supported format did.
struct PretrainedLoad {
    WeightsFormat format = WeightsFormat::Hdf5;
    LoadReport report;
    /// How inputs must be preprocessed for these weights, when the file tells: ConvScope's
    /// metadata, or torchvision's ImageNet normalisation for a .pth.
    std::optional<Preprocessing> preprocessing;
};

/// Loads `path` into `model` by layer name, whatever its format: HDF5 as
/// loadModelWeights(byName), a .pth as loadTorchvisionWeights (its head skipped when shapes
/// differ). On any error the model is untouched. Throws convscope::Error naming the file.
PretrainedLoad loadPretrainedWeights(const std::string& path, ClassifierImpl& model);

/// What a weight file says about its model: an HDF5 file's ConvScope metadata (nullopt when it
/// has none); for a .pth, the model its keys describe (torchvisionModelConfig), class names
/// "class_0", "class_1", ... and torchvision's preprocessing. Reads no tensor values.
/// Throws convscope::Error naming the file.
std::optional<WeightsMetadata> readPretrainedMetadata(const std::string& path);

}  // namespace convscope
