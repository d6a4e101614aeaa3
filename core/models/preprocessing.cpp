#include "models/preprocessing.h"

#include "error.h"

#include <cmath>

namespace convscope {

Preprocessing rescalePreprocessing() {
    return Preprocessing{};
}

Preprocessing torchvisionPreprocessing() {
    return {
        "torchvision", 1.0f / 255.0f, {0.485f, 0.456f, 0.406f}, {0.229f, 0.224f, 0.225f}, false};
}

Preprocessing caffePreprocessing() {
    return {"caffe", 1.0f, {103.939f, 116.779f, 123.68f}, {1, 1, 1}, true};
}

Preprocessing tfPreprocessing() {
    return {"tf", 1.0f / 127.5f, {1, 1, 1}, {1, 1, 1}, false};
}

void validatePreprocessing(const Preprocessing& p, const std::string& subject) {
    if (!std::isfinite(p.rescale) || p.rescale == 0)
        throw Error(subject, "preprocessing rescale " + std::to_string(p.rescale) +
                                 ": must be a finite number other than 0");
    for (std::size_t c = 0; c < 3; ++c) {
        if (!std::isfinite(p.mean[c]))
            throw Error(subject, "preprocessing mean: must be finite");
        if (!std::isfinite(p.stddev[c]) || p.stddev[c] == 0)
            throw Error(subject, "preprocessing std: must be finite and other than 0");
    }
}

}  // namespace convscope
