#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace convscope {

/// Keras: a network built from a Keras model config (ModelConfig::kerasModel), any graph of
/// the layers models/kerasconfig.h lists (models/kerasclassifier.h).
enum class Architecture { SmallConvNet, Vgg16, ResNet18, MobileNetV2, Keras };
/// Flatten + dense (the Keras blog's head), global average pooling + dense (CAM-ready), or
/// the head the architecture was published with (VGG16: fc1, fc2, predictions, 4096 wide, as
/// in Keras's and torchvision's VGG16; ResNet-18 and MobileNetV2: pooling + dense, as gap;
/// the small convnet: as flatten).
enum class Head { Flatten, GlobalAveragePool, Original };
/// Whose arithmetic and layer names an architecture follows. Standard: ConvScope's own
/// (torchvision's for ResNet-18 and MobileNetV2, Keras's for the blog net and VGG16).
/// Keras: Keras Applications' MobileNetV2 (asymmetric zero padding before stride-2 convs,
/// batch-norm epsilon 1e-3, Keras layer names), for Keras and TF.js weights.
enum class Flavour { Standard, Keras };

/// "small", "vgg16", "resnet18", "mobilenetv2", "keras"
const char* architectureName(Architecture a);
/// Throws convscope::Error for an unknown name.
Architecture parseArchitecture(const std::string& name);
const char* headName(Head h);  ///< "flatten", "gap" or "original"
Head parseHead(const std::string& name);
const char* flavourName(Flavour f);  ///< "standard" or "keras"
/// Throws convscope::Error for an unknown name.
Flavour parseFlavour(const std::string& name);

/// The largest square input a model is built for (a 4096x4096 VGG16 already needs ~50 GB for
/// one training image); larger sizes come from damaged or hostile files.
inline constexpr int kMaxInputSize = 4096;

struct ModelConfig {
    Architecture architecture = Architecture::SmallConvNet;
    Head head = Head::Flatten;
    Flavour flavour = Flavour::Standard;
    int inputSize = 150;  ///< square inputs, inputSize x inputSize RGB
    int classCount = 2;
    double dropout = 0.5;
    /// Architecture::Keras only: the JSON of Keras's model.to_json() or of a TF.js layers
    /// model.json, as the user gave it. Its input layer takes inputSize x inputSize x 3.
    std::string kerasModel;
    /// Network surgery (models/kerassurgery.h), on a Keras network: everything after the layer
    /// `cutAfter` is removed, the layers of `append` ("conv:256:3,maxpool:2,gap,dense:128")
    /// follow it, then a new dense layer with one unit per class. Empty: no surgery.
    std::string cutAfter;
    std::string append;
    /// Batch norm's moving-average momentum in Keras's terms (moving = m * moving + (1 - m) *
    /// batch), for every batch-norm layer; 0 keeps each architecture's own (PyTorch's 0.1,
    /// Keras's 0.9 in these terms, for the standard flavour; 0.999 for Keras's MobileNetV2).
    double batchNormMomentum = 0;
};

/// One row of a model summary, in forward order.
struct LayerInfo {
    std::string name;  ///< Keras names (block1_conv1) or torchvision module paths (layer1)
    std::string kind;  ///< Conv2D, Dense, BatchNorm, MaxPool, Stage, ...
    std::vector<std::int64_t> outputShape;  ///< without the batch dimension, channels first
    std::int64_t parameters = 0;
    bool trainable = true;
};

/// The layers of a freshly built model of `config` (ClassifierImpl::summary() without
/// torch in the caller's headers). Throws convscope::Error for an invalid configuration.
std::vector<LayerInfo> describeLayers(const ModelConfig& config);

}  // namespace convscope
