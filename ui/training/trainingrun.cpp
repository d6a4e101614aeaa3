// TrainingPanel's runs: starting one, pausing and cancelling it (or, through its control.json,
// a run another process trains and the panel follows), and its progress as it comes in. The
// form, the layer list and the settings are in trainingpanel.cpp.
#include "ui/training/trainingpanel.h"

#include "train/runcatalog.h"
#include "ui/engine/enginebridge.h"
#include "ui/training/outofmemorybox.h"
#include "ui/training/runsfolder.h"
#include "ui/training/trainingplots.h"

#include <QDir>
#include <QFileInfo>
#include <QLabel>
#include <QProgressBar>
#include <QPushButton>
#include <QSpinBox>

#include <algorithm>

namespace convscope::ui {

namespace {

QString clockText(double seconds) {
    const qint64 s = qint64(seconds + 0.5);
    return QStringLiteral("%1:%2:%3")
        .arg(s / 3600)
        .arg((s / 60) % 60, 2, 10, QLatin1Char('0'))
        .arg(s % 60, 2, 10, QLatin1Char('0'));
}

}  // namespace

bool TrainingPanel::prepareRunDirectory() {
    if (m_dataFolder.isEmpty()) {
        m_status->setText(
            tr("Open a dataset folder first (File > Open, or drop a folder on the window)."));
        return false;
    }
    const QDir dir(runDirectory());
    if (runDirectory().isEmpty() ||
        QFileInfo::exists(dir.filePath(QStringLiteral("config.json"))) ||
        QFileInfo::exists(dir.filePath(QStringLiteral("recipe.json")))) {
        const QString workspace = m_workspace.isEmpty() ? runsFolder() : m_workspace;
        setRunDirectory(QString::fromStdString(newRunFolder(workspace.toStdString())));
    }
    m_plots->clear();
    showLayers(false);
    return true;
}

void TrainingPanel::start() {
    if (!prepareRunDirectory())
        return;
    m_epochs = m_epochCount->value();
    m_bridge->startTraining(config());
    setRunning(true);
}

void TrainingPanel::startFineTune() {
    if (!prepareRunDirectory())
        return;
    m_epochs = m_epochCount->value() + m_fineTuneEpochs->value();
    m_bridge->startFineTune(fineTuneConfig());
    setRunning(true);
}

void TrainingPanel::onOutOfMemory(const QString& runDir, const QString& message, int largestBatch) {
    m_status->setText(message);
    if (largestBatch <= 0)
        return;
    offerSmallerBatch(this, message, largestBatch, [this, runDir, largestBatch] {
        m_batch->setValue(largestBatch);
        resumeRun(runDir, largestBatch);
    });
}

void TrainingPanel::resumeRun(const QString& runDir, int batchSize) {
    // The folder's configuration is read on the training thread; onStarted() learns the
    // epochs it plans, and a folder that holds no run ends as "Stopped: <reason>".
    setRunDirectory(runDir);
    m_plots->clear();
    m_status->setText(tr("Resuming %1…").arg(runDir));
    m_bridge->resumeRun(runDir, batchSize);
    setRunning(true);
}

QString TrainingPanel::statusText() const {
    return m_status->text();
}

void TrainingPanel::onStarted(int plannedEpochs) {
    m_epochs = plannedEpochs;
}

void TrainingPanel::togglePause() {
    if (!m_running && !m_shownRun.isEmpty()) {  // a run another process trains
        m_status->setText(askFollowedRun(
            m_shownRun, m_followedPaused ? RunRequest::Continue : RunRequest::Pause));
        return;
    }
    m_paused = !m_paused;
    if (m_paused) {
        m_bridge->pauseTraining();
        m_status->setText(tr("Paused (the current batch finishes first)"));
    } else {
        m_bridge->resumeTraining();
    }
    m_pause->setText(m_paused ? tr("&Resume") : tr("&Pause"));
}

void TrainingPanel::cancel() {
    if (!m_running && !m_shownRun.isEmpty()) {
        m_status->setText(askFollowedRun(m_shownRun, RunRequest::Cancel));
        return;
    }
    // Cancelling also ends a pause: the trainer wakes, sees the cancel and stops. Resuming
    // first would let one more batch run.
    m_bridge->cancelTraining();
    m_paused = false;
    m_pause->setText(tr("&Pause"));
    m_status->setText(tr("Cancelling…"));
}

void TrainingPanel::setRunning(bool running) {
    m_running = running;
    if (running)
        m_shownRun.clear();  // the charts are this window's run from now on
    m_start->setEnabled(!running);
    m_fineTune->setEnabled(!running);
    m_pause->setEnabled(running);
    m_cancel->setEnabled(running);
    m_paused = false;
    m_pause->setText(tr("&Pause"));
    Q_EMIT trainingStateChanged(running);
}

bool TrainingPanel::showRun(const FollowedRun& run, bool opened) {
    if (m_running)
        return false;
    const QString path = QString::fromStdString(run.summary.path);
    const QString line = followedRunStatus(run.summary);
    // The run is read again whenever anything in its workspace changes. Its line is rewritten
    // only when it says something new (or the run was just opened), so that a message shown
    // since (the starting weights described, a request sent) stays until there is news.
    if (opened || path != m_shownRun || line != m_shownRunLine)
        m_status->setText(line);
    m_shownRun = path;
    m_shownRunLine = line;
    // A run whose folder has gone keeps its curves and stays followed: Undo in the Runs dock
    // may bring it back, and the next listing then shows it again.
    if (run.summary.status != "missing") {
        m_plots->clear();
        for (const EpochEnd& e : followedEpochs(run))
            m_plots->addEpoch(e);
    }
    // Pause, Resume and Cancel act on it through its control.json while it trains.
    const bool training = run.summary.status == "running";
    m_followedPaused = run.summary.paused;
    m_pause->setEnabled(training);
    m_cancel->setEnabled(training);
    m_pause->setText(m_followedPaused ? tr("&Resume") : tr("&Pause"));
    return true;
}

void TrainingPanel::onBatch(const BatchEnd& e) {
    m_plots->addBatch(e);
    m_progress->setRange(0, int(e.batchesPerEpoch));
    m_progress->setValue(int(e.batch));
    const double perBatch = e.epochSeconds / double(std::max<std::int64_t>(1, e.batch));
    const double eta =
        perBatch * double(e.batchesPerEpoch - e.batch + e.batchesPerEpoch * (m_epochs - e.epoch));
    m_status->setText(tr("Epoch %1/%2, batch %3/%4 — loss %5, accuracy %6 — %7 images/s — ETA %8")
                          .arg(e.epoch)
                          .arg(m_epochs)
                          .arg(e.batch)
                          .arg(e.batchesPerEpoch)
                          .arg(e.loss, 0, 'f', 4)
                          .arg(e.accuracy, 0, 'f', 3)
                          .arg(e.epochImagesPerSecond, 0, 'f', 0)
                          .arg(clockText(eta)));
}

void TrainingPanel::onEpoch(const EpochEnd& e) {
    m_plots->addEpoch(e);
    const QString epoch =
        e.phase ? tr("%1 (phase %2)").arg(e.epoch).arg(e.phase) : QString::number(e.epoch);
    m_status->setText(tr("Epoch %1: validation accuracy %2, loss %3")
                          .arg(epoch)
                          .arg(e.validationAccuracy, 0, 'f', 4)
                          .arg(e.validationLoss, 0, 'f', 4));
    Q_EMIT weightsAvailable(currentWeights());
}

void TrainingPanel::onFinished(const TrainingResult& r) {
    setRunning(false);
    if (!r.error.empty()) {
        m_status->setText(tr("Stopped: %1").arg(QString::fromStdString(r.error)));
    } else if (r.cancelled) {
        m_status->setText(
            tr("Cancelled after %1 epochs. Resume continues from the last checkpoint.")
                .arg(r.epochsCompleted));
    } else {
        m_status->setText(tr("Finished %1 epochs: validation accuracy %2")
                              .arg(r.epochsCompleted)
                              .arg(r.finalValidationAccuracy, 0, 'f', 4));
        Q_EMIT weightsAvailable(QString::fromStdString(r.weightsPath));
    }
}

}  // namespace convscope::ui
