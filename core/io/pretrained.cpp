#include "io/pretrained.h"

namespace convscope {

PretrainedLoad loadPretrainedWeights(const std::string& path, ClassifierImpl& model,
                                     KernelLayout layout) {
    return WeightsFile::open(path).loadInto(model, layout);
}

std::optional<WeightsMetadata> readPretrainedMetadata(const std::string& path) {
    return WeightsFile::open(path, WeightsFile::Contents::Metadata).metadata();
}

}  // namespace convscope
