#include "inspect/modelinput.h"

#include "error.h"
#include "io/weightsfile.h"
#include "models/classifier.h"

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <torch/torch.h>

namespace convscope {

namespace {

/// The input size of weights that neither say it nor were given one (the Keras blog's).
constexpr int kDefaultInputSize = 150;

/// Thrown by a layer tap to end the forward pass once the wanted output is seen.
struct StopForward {};

}  // namespace

Classifier loadForInference(const std::string& weightsPath,
                            const std::optional<WeightsMetadata>& fallback,
                            WeightsMetadata& metadata, LoadReport* report, KernelLayout layout) {
    const WeightsFile file = WeightsFile::open(weightsPath);
    const WeightsFormat format = file.format();
    auto stored = file.metadata();
    const bool namesGiven = fallback && !fallback->classNames.empty();
    if (format == WeightsFormat::KerasBackbone) {
        if (!namesGiven)
            throw Error(weightsPath,
                        "is a Keras backbone without a classifier for your classes: "
                        "give the class names (its new head is untrained)");
        stored->classNames = fallback->classNames;
        stored->model.classCount = fallback->model.classCount;
        stored->model.head = fallback->model.head;
    }
    // A Keras model's own file numbers its classes; names given for them replace the numbers.
    if (format == WeightsFormat::KerasModel && namesGiven) {
        if (int(fallback->classNames.size()) != stored->model.classCount)
            throw Error(weightsPath, "has " + std::to_string(stored->model.classCount) +
                                         " classes, but " +
                                         std::to_string(fallback->classNames.size()) +
                                         " class names were given");
        stored->classNames = fallback->classNames;
    }
    if (!stored && !namesGiven)
        throw Error(weightsPath,
                    "has no ConvScope metadata: give the architecture, input size and class names");
    metadata = stored ? *stored : *fallback;
    // A .pth tells its own architecture and class count; only names can be given for them.
    if (format == WeightsFormat::TorchPth && namesGiven) {
        if (int(fallback->classNames.size()) != metadata.model.classCount)
            throw Error(weightsPath, "has " + std::to_string(metadata.model.classCount) +
                                         " classes, but " +
                                         std::to_string(fallback->classNames.size()) +
                                         " class names were given");
        metadata.classNames = fallback->classNames;
    }
    // An input size given by hand is never dropped silently: convolutional backbones (a .pth,
    // a Keras backbone) take it; weights trained by ConvScope keep theirs and say so.
    const int askedSize = fallback ? fallback->model.inputSize : 0;
    if (askedSize > 0 && askedSize != metadata.model.inputSize) {
        if (format == WeightsFormat::TorchPth || format == WeightsFormat::KerasBackbone ||
            format == WeightsFormat::KerasModel)
            metadata.model.inputSize = askedSize;
        else if (stored)
            throw Error(weightsPath, "was trained at " + std::to_string(metadata.model.inputSize) +
                                         " px and keeps that size (--size " +
                                         std::to_string(askedSize) + " cannot apply)");
    }
    if (metadata.model.inputSize <= 0)
        metadata.model.inputSize = kDefaultInputSize;
    if (int(metadata.classNames.size()) != metadata.model.classCount)
        throw Error(weightsPath, "the class names do not match the model's class count (" +
                                     std::to_string(metadata.model.classCount) + ")");
    Classifier model = makeClassifier(metadata.model);
    const PretrainedLoad loaded = file.loadInto(*model, layout);
    if (format == WeightsFormat::TorchPth &&
        (!loaded.report.mismatched.empty() || !loaded.report.notInFile.empty()))
        throw Error(weightsPath, "does not fill the model: " + describe(loaded.report));
    if (report)
        *report = loaded.report;
    model->eval();
    return model;
}

namespace {

/// Per-channel values as [1, 3, 1, 1] on the device of `like`, for broadcasting over NCHW.
torch::Tensor perChannel(const std::array<float, 3>& values, const torch::Tensor& like) {
    return torch::tensor(at::ArrayRef<float>(values.data(), values.size()), torch::kFloat32)
        .view({1, 3, 1, 1})
        .to(like.device());
}

}  // namespace

torch::Tensor pixelsToInput(const torch::Tensor& pixels, const Preprocessing& p) {
    const auto mean = perChannel(p.mean, pixels);
    const auto stddev = perChannel(p.stddev, pixels);
    // Caffe-style weights see BGR: the channels swap before mean and std (given in BGR).
    return ((p.bgr ? pixels.flip(1) : pixels) * p.rescale - mean) / stddev;
}

torch::Tensor inputToPixels(const torch::Tensor& input, const Preprocessing& p) {
    const auto mean = perChannel(p.mean, input);
    const auto stddev = perChannel(p.stddev, input);
    const torch::Tensor pixels = (input * stddev + mean) / p.rescale;
    return p.bgr ? pixels.flip(1) : pixels;
}

torch::Tensor imageToPixels(const RgbImage& image, int size) {
    if (image.empty())
        throw Error("image", "is empty");
    const cv::Mat rgb(image.height, image.width, CV_8UC3,
                      const_cast<std::uint8_t*>(image.pixels.data()));
    cv::Mat sized;
    if (image.width == size && image.height == size)
        sized = rgb;
    else
        cv::resize(rgb, sized, cv::Size(size, size), 0, 0, cv::INTER_AREA);
    const torch::Tensor hwc =
        torch::from_blob(sized.data, {size, size, 3}, torch::kUInt8).to(torch::kFloat32);
    return hwc.permute({2, 0, 1}).unsqueeze(0).contiguous();
}

torch::Tensor layerOutput(ClassifierImpl& model, const torch::Tensor& input,
                          const std::string& layer) {
    return layerOutputs(model, input, {layer}).front();
}

std::vector<torch::Tensor> layerOutputs(ClassifierImpl& model, const torch::Tensor& input,
                                        const std::vector<std::string>& layers) {
    std::vector<torch::Tensor> out(layers.size());
    std::size_t seen = 0;
    const LayerTap tap = [&](const std::string& name, const torch::Tensor& t) {
        for (std::size_t i = 0; i < layers.size(); ++i) {
            if (name == layers[i] && !out[i].defined()) {
                out[i] = t;
                if (++seen == layers.size())
                    throw StopForward{};
            }
        }
    };
    try {
        model.forward(input, &tap);
    } catch (const StopForward&) {
        return out;
    } catch (const c10::Error& e) {
        throw Error(layers.back(), std::string("cannot compute at this input size: ") +
                                       e.what_without_backtrace());
    }
    for (std::size_t i = 0; i < layers.size(); ++i)
        if (!out[i].defined())
            throw Error(layers[i], "no such layer in this model (see `convscope summary`)");
    return out;
}

}  // namespace convscope
