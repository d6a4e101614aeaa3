#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace convscope {

/// Metrics of a model on a labelled set: confusion[truth][predicted].
struct Evaluation {
    std::vector<std::vector<std::int64_t>> confusion;
    double loss = 0;  ///< mean cross-entropy
    std::int64_t samples = 0;
    std::vector<std::size_t> sampleIndices;  ///< dataset samples, in evaluation order
    std::vector<int> predictions;            ///< predicted class per evaluated sample
    std::vector<int> truths;                 ///< true class per evaluated sample
    std::vector<std::string> samplePaths;    ///< file of each evaluated sample, when known
    /// Stopped by a cancel: the counts cover only the samples seen by then.
    bool cancelled = false;

    double accuracy() const;
    double precision(int label) const;  ///< 0 when nothing was predicted as `label`
    double recall(int label) const;     ///< 0 when `label` has no samples
};

}  // namespace convscope
