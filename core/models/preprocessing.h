#pragma once

#include <array>
#include <string>

namespace convscope {

/// How a model's inputs are made from pixels in 0..255, RGB: channels reversed to blue, green,
/// red when `bgr`, then x * rescale, then (x - mean) / std per channel, mean and std in the
/// network's channel order. The one description of it: the batch loader, the predictor, the
/// inspector and the weight files all read this type. Plain data, free of LibTorch.
struct Preprocessing {
    std::string name = "rescale";  ///< "rescale", "torchvision", "caffe", "tf"
    float rescale = 1.0f / 255.0f;
    std::array<float, 3> mean{0, 0, 0};
    std::array<float, 3> stddev{1, 1, 1};
    bool bgr = false;  ///< channels fed blue, green, red (Keras's "caffe" models)

    bool operator==(const Preprocessing&) const = default;
};

/// x / 255: ConvScope's default, the Keras blog's `rescale=1./255`.
Preprocessing rescalePreprocessing();
/// What torchvision's ImageNet weights expect: RGB in [0, 1], normalised with ImageNet's
/// mean (0.485, 0.456, 0.406) and standard deviation (0.229, 0.224, 0.225).
Preprocessing torchvisionPreprocessing();
/// Keras's "caffe" preprocessing (VGG16, ResNet50): BGR, ImageNet mean subtracted, no scaling.
Preprocessing caffePreprocessing();
/// Keras's "tf" preprocessing (MobileNet, MobileNetV2): x / 127.5 - 1, RGB.
Preprocessing tfPreprocessing();

/// Throws convscope::Error(subject, reason) when `p` cannot map pixels to inputs: a rescale
/// or standard deviation that is zero or not finite, a mean that is not finite.
void validatePreprocessing(const Preprocessing& p, const std::string& subject);

}  // namespace convscope
