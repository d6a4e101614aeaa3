#pragma once

#include <QString>

#include <cstdint>
#include <vector>

namespace convscope {
struct LayerInfo;
}

namespace convscope::ui {

/// What a batch size means for one epoch and for memory. Plain arithmetic on what the window
/// already knows (the training image count, the image size, the model's layer list): no
/// tensors, nothing measured. The memory figures are estimates for float32 training.
struct BatchPlan {
    /// Fewer weight updates per epoch than this is called "very few".
    static constexpr std::int64_t kFewUpdates = 10;

    int trainImages = 0;               ///< 0: no dataset yet
    int batchSize = 0;                 ///< 0: "auto", chosen when training starts
    int imageSize = 0;                 ///< square inputs, pixels per side
    std::int64_t batchesPerEpoch = 0;  ///< ceil(trainImages / batch); 0 when unknown
    std::int64_t inputBytes = 0;       ///< batch × 3 × size × size × 4 bytes
    /// Rough: twice the listed layers' outputs (kept for the backward pass, and their
    /// gradients) × batch × 4 bytes; -1 when the layers are not known.
    std::int64_t activationBytes = -1;
    /// Weights, their gradients and two optimizer moments (Adam): parameters × 16 bytes;
    /// -1 when the layers are not known. Does not grow with the batch.
    std::int64_t parameterBytes = -1;

    bool batchLargerThanData() const {
        return batchSize > 0 && trainImages > 0 && batchSize > trainImages;
    }
    bool fewUpdates() const { return batchesPerEpoch > 0 && batchesPerEpoch < kFewUpdates; }
    bool hasWarning() const { return batchLargerThanData() || fewUpdates(); }

    /// The plan for `batchSize` images per step over `trainImages` images of
    /// `imageSize`×`imageSize`; `layers` (may be empty) gives the activation estimate.
    static BatchPlan make(int trainImages, int batchSize, int imageSize,
                          const std::vector<convscope::LayerInfo>& layers = {});

    /// Two lines for the label under the batch size: the updates, then the memory.
    QString text() const;
    /// "1.5 MiB", "312 KiB", "2.0 GiB".
    static QString bytesText(std::int64_t bytes);
};

}  // namespace convscope::ui
