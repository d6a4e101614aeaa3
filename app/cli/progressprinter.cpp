#include "cli/progressprinter.h"

#include "cli/jsontext.h"

#include <nlohmann/json.hpp>
#include <unistd.h>

#include <cstdio>
#include <iostream>

namespace convscope::cli {

namespace {

std::string clock(double seconds) {
    const long s = long(seconds + 0.5);
    char buf[32];
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
    return buf;
}

void emit(const nlohmann::json& j) {
    std::cout << jsonText(j) << std::endl;
}

}  // namespace

ProgressPrinter::ProgressPrinter(Style style, int epochs)
    : m_mode(style == Style::Json    ? Mode::Json
             : isatty(STDOUT_FILENO) ? Mode::Terminal
                                     : Mode::Lines),
      m_epochs(epochs) {}

void ProgressPrinter::onProgress(Phase phase, std::size_t done, std::size_t total) {
    const char* what = phase == Phase::Scanning   ? "scanning"
                       : phase == Phase::Features ? "features"
                                                  : "decoding";
    if (m_mode == Mode::Json) {
        if (done == total)
            emit({{"event", what}, {"done", done}, {"total", total}});
    } else if (m_mode == Mode::Terminal) {
        std::printf("\r%s %zu/%zu%s", what, done, total, done == total ? "\n" : "");
        std::fflush(stdout);
    } else if (done == total) {
        std::printf("%s: %zu files\n", what, total);
    }
}

void ProgressPrinter::onMessage(const std::string& text) {
    if (m_mode == Mode::Json)
        emit({{"event", "message"}, {"text", text}});
    else
        std::printf("%s\n", text.c_str());
}

void ProgressPrinter::onBatchEnd(const BatchEnd& e) {
    const double remainingBatches = double(e.batchesPerEpoch - e.batch);
    if (m_mode == Mode::Json) {
        emit({{"event", "batch"},
              {"epoch", e.epoch},
              {"batch", e.batch},
              {"batches", e.batchesPerEpoch},
              {"loss", e.loss},
              {"accuracy", e.accuracy},
              {"images_per_second", e.epochImagesPerSecond}});
        return;
    }
    if (m_mode != Mode::Terminal)
        return;
    const auto now = std::chrono::steady_clock::now();
    if (e.batch != e.batchesPerEpoch && now - m_lastDraw < std::chrono::milliseconds(100))
        return;
    m_lastDraw = now;
    const int width = 24;
    const int filled = int(width * e.batch / std::max<std::int64_t>(1, e.batchesPerEpoch));
    const double perBatch = e.epochSeconds / double(std::max<std::int64_t>(1, e.batch));
    const double eta =
        perBatch * (remainingBatches + double(e.batchesPerEpoch) * double(m_epochs - e.epoch));
    std::printf("\repoch %d/%d [%s%s] %lld/%lld loss %.4f acc %.3f %.0f img/s ETA %s", e.epoch,
                m_epochs, std::string(std::size_t(filled), '#').c_str(),
                std::string(std::size_t(width - filled), '.').c_str(), (long long)e.batch,
                (long long)e.batchesPerEpoch, e.loss, e.accuracy, e.epochImagesPerSecond,
                clock(eta).c_str());
    std::fflush(stdout);
}

void ProgressPrinter::onEpochEnd(const EpochEnd& e) {
    if (m_mode == Mode::Json) {
        emit({{"event", "epoch"},
              {"epoch", e.epoch},
              {"loss", e.trainLoss},
              {"accuracy", e.trainAccuracy},
              {"val_loss", e.validationLoss},
              {"val_accuracy", e.validationAccuracy},
              {"lr", e.learningRate},
              {"seconds", e.seconds},
              {"phase", e.phase}});
        return;
    }
    const double eta = e.seconds * double(m_epochs - e.epoch);
    std::printf(
        "%sepoch %d/%d: loss %.4f acc %.4f  val_loss %.4f val_acc %.4f  lr %.3g  %.1fs  ETA %s\n",
        m_mode == Mode::Terminal ? "\r\033[K" : "", e.epoch, m_epochs, e.trainLoss, e.trainAccuracy,
        e.validationLoss, e.validationAccuracy, e.learningRate, e.seconds, clock(eta).c_str());
    std::fflush(stdout);
}

void ProgressPrinter::onCheckpoint(const std::string& path) {
    if (m_mode == Mode::Json)
        emit({{"event", "checkpoint"}, {"path", path}});
}

void ProgressPrinter::onPaused(bool paused) {
    if (m_mode == Mode::Json) {
        emit({{"event", paused ? "paused" : "continued"}});
        return;
    }
    std::printf("%s%s\n", m_mode == Mode::Terminal ? "\r\033[K" : "",
                paused ? "Paused; `convscope control RUN_DIR continue` (or the window) goes on"
                       : "Continuing");
    std::fflush(stdout);
}

void ProgressPrinter::onFinished(const TrainingResult& r) {
    const StageSeconds& t = r.seconds;
    if (m_mode == Mode::Json) {
        emit({{"event", "finished"},
              {"cancelled", r.cancelled},
              {"stopped_early", r.stoppedEarly},
              {"epochs", r.epochsCompleted},
              {"val_accuracy", r.finalValidationAccuracy},
              {"val_loss", r.finalValidationLoss},
              {"peak_gpu_memory_bytes", r.peakDeviceMemoryBytes},
              {"weights", r.weightsPath},
              {"seconds",
               {{"scan", t.scan},
                {"decode", t.decode},
                {"augment", t.augment},
                {"batch_wait", t.batchWait},
                {"forward_backward", t.forwardBackward},
                {"optimizer", t.optimizer},
                {"validation", t.validation},
                {"writes", t.writes},
                {"total", t.total}}}});
        return;
    }
    if (!r.weightsPath.empty())
        std::printf("Finished %d epochs: val_acc %.4f; weights in %s\n", r.epochsCompleted,
                    r.finalValidationAccuracy, r.weightsPath.c_str());
    if (t.total > 0)
        std::printf(
            "Time: %.1f s: scan %.1f, decode %.1f, forward+backward %.1f, optimizer %.1f, "
            "waiting for batches %.1f, validation %.1f, writes %.1f (augmentation %.1f s "
            "on the loader's threads, beside training)\n",
            t.total, t.scan, t.decode, t.forwardBackward, t.optimizer, t.batchWait, t.validation,
            t.writes, t.augment);
}

}  // namespace convscope::cli
