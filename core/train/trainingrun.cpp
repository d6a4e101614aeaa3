#include "train/trainingrun.h"

#include "error.h"
#include "train/finetuner.h"
#include "train/trainer.h"

#include <filesystem>

namespace convscope {

std::unique_ptr<TrainingRun> resumeTrainingRun(const std::string& runDir,
                                               TrainingObserver* observer, int batchSize) {
    return atBoundary(runDir, [&]() -> std::unique_ptr<TrainingRun> {
        if (std::filesystem::exists(std::filesystem::path(runDir) / "recipe.json"))
            return std::make_unique<FineTuner>(FineTuner::resumeConfig(runDir), observer, true);
        TrainConfig config = Trainer::resumeConfig(runDir);
        if (batchSize > 0)
            config.batchSize = batchSize;
        return std::make_unique<Trainer>(std::move(config), observer, true);
    });
}

}  // namespace convscope
