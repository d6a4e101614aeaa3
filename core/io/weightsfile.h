#pragma once

#include "io/kernellayout.h"
#include "io/weightsmetadata.h"

#include <memory>
#include <optional>
#include <string>

namespace convscope {

class ClassifierImpl;

/// The weight files ConvScope reads.
enum class WeightsFormat {
    Hdf5,      ///< ConvScope's or Keras's save_weights layout
    TorchPth,  ///< torch.save(model.state_dict()) of a torchvision model
    /// An ImageNet backbone from Keras: a TF.js layers model.json, or a Keras VGG16 or
    /// MobileNetV2 HDF5 file without ConvScope metadata (io/kerasimport.h).
    KerasBackbone,
    /// A Keras network's own file, topology and weights, for a network built from that
    /// topology (Architecture::Keras, models/kerasclassifier.h): a TF.js layers model.json of
    /// any other network than the backbones above, a whole-model HDF5 file (model.save("x.h5"),
    /// without ConvScope metadata) or a Keras 3 `.keras` archive.
    KerasModel,
};

const char* weightsFormatName(WeightsFormat format);  ///< "HDF5", "PyTorch state_dict", ...

/// The format of `path`, told as WeightsFile tells it: by its first bytes, and for an HDF5
/// file by its layer names and metadata (no arrays are read). A file in a format's envelope
/// that the format's reader would refuse (a legacy .pth) still gets the format. Throws
/// convscope::Error(path, reason) for a file that cannot be read or has none of the formats.
WeightsFormat detectWeightsFormat(const std::string& path);

/// What loading weights from any supported format did.
struct PretrainedLoad {
    WeightsFormat format = WeightsFormat::Hdf5;
    /// What the file holds, when the format says more than its name (Keras backbones:
    /// "Keras MobileNetV2 (TF.js layers model, Keras 2.2.4, 224x224 input)").
    std::string description;
    LoadReport report;
    /// How inputs must be preprocessed for these weights, when the file tells: ConvScope's
    /// metadata, a Keras backbone's origin, or torchvision's ImageNet normalisation for a .pth.
    std::optional<Preprocessing> preprocessing;
};

/// One weight file, read once: its format, what it says about its model, and its tensors.
/// The one place where formats are told apart: by signature (a JSON document is a TF.js
/// model, a zip archive or a pickle a .pth, HDF5's signature at 0 or after a user block an
/// HDF5 file), and an HDF5 file without ConvScope metadata whose layers are VGG16's or
/// MobileNetV2's is a Keras backbone. Not thread-safe; move it between threads freely.
class WeightsFile {
public:
    enum class Contents {
        Metadata,    ///< names, shapes and what the file says; no tensor values
        Everything,  ///< also the values, for loadInto
    };

    /// Reads `path`. Throws convscope::Error naming the file for one that cannot be read,
    /// is damaged, or is none of the formats above.
    static WeightsFile open(const std::string& path, Contents contents = Contents::Everything);

    WeightsFile(WeightsFile&&) noexcept;
    WeightsFile& operator=(WeightsFile&&) noexcept;
    ~WeightsFile();

    const std::string& path() const;
    WeightsFormat format() const;
    /// For a Keras backbone, what it is ("Keras VGG16 (HDF5 weights, Keras 2.2.4)"); else empty.
    const std::string& description() const;
    /// What the file says about its model: an HDF5 file's ConvScope metadata (nullopt when it
    /// has none); for a Keras backbone its architecture, flavour, input size (224 when the
    /// file does not say) and preprocessing, with no classes (classCount 0); for a .pth, the
    /// model its keys describe (torchvisionModelConfig), class names "class_0", "class_1", ...
    /// and torchvision's preprocessing; for a Keras model, Architecture::Keras with the model's
    /// config, its input size (224 when open), class names "class_0", ... for its output units
    /// and a rescale of 1/255 (TF.js files do not say how their inputs are scaled).
    const std::optional<WeightsMetadata>& metadata() const;
    /// The square input size the file itself states (a TF.js model's input layer, ConvScope
    /// metadata); 0 when it says nothing.
    int statedInputSize() const;

    /// Loads the tensors into `model` by layer name: an HDF5 file as
    /// loadModelWeights(byName), a .pth as loadTorchvisionWeights (its head skipped when
    /// shapes differ), a Keras backbone as loadBackboneWeights; the Keras formats read their
    /// conv kernels in `layout` (io/kernellayout.h; a .pth ignores it). On any error the model
    /// is untouched. Throws convscope::Error naming the file, also when opened without values.
    PretrainedLoad loadInto(ClassifierImpl& model, KernelLayout layout = KernelLayout::Auto) const;

private:
    struct Impl;
    explicit WeightsFile(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> m_impl;
};

}  // namespace convscope
