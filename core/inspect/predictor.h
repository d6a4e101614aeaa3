#pragma once

#include "data/rgbimage.h"
#include "io/kernellayout.h"
#include "io/weightsmetadata.h"
#include "runtime.h"
#include "train/evaluation.h"

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace convscope {

enum class Split;

struct Prediction {
    std::string path;
    std::vector<float> probabilities;  ///< per class, summing to 1
    std::vector<float> logits;         ///< per class: the network's output before the softmax
    int top = -1;
    std::string error;  ///< non-empty when the image could not be read; nothing else is set
};

/// A trained model ready to classify images: weights loaded once, preprocessing from the
/// file's metadata. Uses its own copy of the weights, so it can run beside training.
/// One Predictor is used by one thread at a time.
class Predictor {
public:
    /// Loads `weightsPath` (io/pretrained.h): ConvScope or Keras HDF5, a torchvision .pth, or
    /// a Keras backbone (TF.js model.json, Keras VGG16/MobileNetV2 HDF5). An HDF5 file without
    /// ConvScope metadata needs `fallback` (architecture, input size, class names). A .pth gives
    /// its architecture and class count itself (input 224, torchvision preprocessing); its
    /// classes are "class_0", ... unless `fallback` names them (the count must agree). A Keras
    /// backbone brings its architecture, flavour, preprocessing and input size; `fallback`
    /// gives the class names and its head stays untrained (see loadReport()). Keras files
    /// have their conv kernels read in `layout` (io/kernellayout.h).
    /// Throws convscope::Error naming the file.
    explicit Predictor(const std::string& weightsPath,
                       const std::optional<WeightsMetadata>& fallback = {},
                       KernelLayout layout = KernelLayout::Auto);
    ~Predictor();
    Predictor(Predictor&&) noexcept;

    /// Runs on `device` in `precision` from now on (CPU and fp32 until called). Returns what
    /// was chosen, in words. Throws convscope::Error when the device cannot be had.
    std::string setDevice(const DeviceChoice& device, Precision precision = Precision::Auto);

    const WeightsMetadata& metadata() const;
    /// What loading the weights did (the layers loaded, skipped, kept as initialised).
    const LoadReport& loadReport() const;

    /// Classifies files in batches; unreadable files get an error, never an exception.
    std::vector<Prediction> predictFiles(const std::vector<std::string>& paths, int batchSize = 32);
    Prediction predict(const RgbImage& image);

    /// Accuracy, confusion and per-class metrics on a dataset folder whose class names match
    /// the model's. `split`: the split to use, or every usable image when not given. Setting
    /// `*cancel` (from any thread) stops the scan, the decoding or the batches within one
    /// step; the result then says `cancelled`.
    Evaluation evaluate(const std::string& dataDir, std::optional<Split> split,
                        double validationFraction, std::uint64_t seed, int batchSize = 32,
                        const std::atomic<bool>* cancel = nullptr);

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

}  // namespace convscope
