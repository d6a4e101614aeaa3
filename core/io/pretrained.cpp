#include "io/pretrained.h"

namespace convscope {

PretrainedLoad loadPretrainedWeights(const std::string& path, ClassifierImpl& model) {
    return WeightsFile::open(path).loadInto(model);
}

std::optional<WeightsMetadata> readPretrainedMetadata(const std::string& path) {
    return WeightsFile::open(path, WeightsFile::Contents::Metadata).metadata();
}

}  // namespace convscope
