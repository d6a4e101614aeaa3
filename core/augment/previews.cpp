#include "augment/previews.h"

#include "augment/augmenter.h"
#include "data/imagedecoder.h"
#include "util/random.h"

#include <opencv2/core.hpp>

namespace convscope {

std::vector<RgbImage> augmentPreviews(const RgbImage& source, const AugmentParams& params,
                                      int count, std::uint64_t seed) {
    const Augmenter augmenter(params);
    const cv::Mat src(source.height, source.width, CV_8UC3,
                      const_cast<std::uint8_t*>(source.pixels.data()));
    std::vector<RgbImage> out;
    cv::Mat augmented;
    for (int i = 0; i < count; ++i) {
        augmenter.apply(src, augmented, mixSeed(seed, std::uint64_t(i) + 1));
        out.push_back(toRgbImage(augmented));
    }
    return out;
}

}  // namespace convscope
