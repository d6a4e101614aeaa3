#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace convscope {

/// Where Debian's dataset-fashion-mnist package puts its IDX files.
inline constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

/// Fashion-MNIST's ten classes as folder names, in label order.
const std::vector<std::string>& fashionMnistClassNames();

/// A gzip-compressed IDX file of uint8 images (magic 0x00000803) or labels (0x00000801).
struct IdxData {
    std::vector<int> dims;  ///< e.g. {60000, 28, 28}
    std::vector<std::uint8_t> values;
};

/// Reads an IDX file, gzip-compressed or not. Throws convscope::Error naming the file.
IdxData readIdxFile(const std::string& path);

struct DemoDataOptions {
    std::string sourceDir = kFashionMnistDir;
    int perClassTrain = 300;
    int perClassValidation = 60;
};

struct DemoDataSummary {
    int trainImages = 0;
    int validationImages = 0;
};

/// Writes Fashion-MNIST as PNGs in the root/train/<class>/ + root/validation/<class>/ layout
/// (training images from the train set, validation images from the test set).
/// Throws convscope::Error when the package is missing or a file cannot be written.
DemoDataSummary writeFashionMnistFolders(const std::string& root, const DemoDataOptions& options);

}  // namespace convscope
