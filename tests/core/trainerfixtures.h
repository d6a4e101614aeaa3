#pragma once

// Small data sets and settings shared by the trainer tests.

#include "testimages.h"
#include "train/trainconfig.h"

#include <string>

namespace convscope::test {

/// Two trivially separable classes: red and blue images with a little variation.
inline void makeColourDataset(const TempDir& dir, int perClass) {
    for (int i = 0; i < perClass; ++i) {
        writeImage(dir.file("data/red/" + std::to_string(i) + ".png"),
                   solidBgr(20, 20, {200.0 + i % 50, 20.0 + i % 30, 30}));
        writeImage(dir.file("data/blue/" + std::to_string(i) + ".png"),
                   solidBgr(20, 20, {20, 30.0 + i % 30, 200.0 + i % 50}));
    }
}

inline TrainConfig smallConfig(const TempDir& dir, const std::string& run, int epochs) {
    TrainConfig c;
    c.dataDir = dir.path() + "/data";
    c.runDir = dir.path() + "/" + run;
    c.model.architecture = Architecture::SmallConvNet;
    c.model.inputSize = 32;
    c.epochs = epochs;
    c.batchSize = 8;
    c.learningRate = 3e-3;
    c.augmentation.horizontalFlip = true;
    c.augmentation.rotationRange = 10;
    c.seed = 7;
    return c;
}

}  // namespace convscope::test
