#pragma once

#include "train/trainingobserver.h"

#include <chrono>

namespace convscope::cli {

/// Prints training events: a progress bar with ETA on a terminal, one line per epoch when
/// not, or one JSON object per line (the last one holds the final validation accuracy).
class ProgressPrinter : public TrainingObserver {
public:
    enum class Style { Auto, Json };
    ProgressPrinter(Style style, int epochs);

    void onProgress(Phase phase, std::size_t done, std::size_t total) override;
    void onMessage(const std::string& text) override;
    void onBatchEnd(const BatchEnd& e) override;
    void onEpochEnd(const EpochEnd& e) override;
    void onCheckpoint(const std::string& path) override;
    void onPaused(bool paused) override;
    void onFinished(const TrainingResult& result) override;

private:
    enum class Mode { Terminal, Lines, Json };
    Mode m_mode;
    int m_epochs;
    std::chrono::steady_clock::time_point m_lastDraw;
};

}  // namespace convscope::cli
