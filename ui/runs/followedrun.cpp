#include "ui/runs/followedrun.h"

#include "error.h"

#include <QCoreApplication>
#include <QStringList>

namespace convscope::ui {

namespace {

QString tr(const char* text) {
    return QCoreApplication::translate("FollowedRun", text);
}

}  // namespace

std::vector<EpochEnd> followedEpochs(const FollowedRun& run) {
    std::vector<EpochEnd> epochs;
    for (const RunEpoch& r : run.history) {
        EpochEnd e;
        e.epoch = r.epoch;
        e.trainLoss = r.trainLoss;
        e.trainAccuracy = r.trainAccuracy;
        e.validationLoss = r.validationLoss;
        e.validationAccuracy = r.validationAccuracy;
        epochs.push_back(e);
    }
    return epochs;
}

QString followedRunStatus(const RunSummary& s) {
    const QString name = QString::fromStdString(s.name);
    if (s.status == "missing")
        return tr("Run “%1” is no longer in %2: it was moved, renamed or deleted (Undo in the "
                  "Runs dock brings back a run moved to the trash). The charts keep what it had "
                  "written.")
            .arg(name, QString::fromStdString(s.path));
    QString status = QString::fromStdString(s.status);
    if (!s.reason.empty())  // why it is damaged, failed or interrupted
        status += tr(" (%1)").arg(QString::fromStdString(s.reason));
    QString text = tr("Run “%1”: %2, %3 of %4 epochs")
                       .arg(name, status)
                       .arg(s.epochsDone)
                       .arg(s.epochsPlanned);
    if (!s.host.empty())
        text += (s.status == "running" ? tr(", trained by process %1 on %2")
                                       : tr(", last trained by process %1 on %2"))
                    .arg(s.pid)
                    .arg(QString::fromStdString(s.host));
    if (!s.rankImagesPerSecond.empty()) {
        QStringList rates;
        for (double r : s.rankImagesPerSecond)
            rates << QString::number(r, 'f', 0);
        text += tr("; %1 data-parallel processes at %2 images/s")
                    .arg(s.rankImagesPerSecond.size())
                    .arg(rates.join(QStringLiteral(", ")));
    }
    if (s.paused)
        text += tr("; paused (Resume goes on)");
    if (s.status == "running")
        text += tr(" (the charts follow it)");
    return text + QLatin1Char('.');
}

QString askFollowedRun(const QString& runDir, RunRequest request) {
    try {
        requestRun(runDir.toStdString(), request);
    } catch (const Error& e) {
        return tr("Could not ask the run: %1").arg(QString::fromStdString(e.what()));
    }
    switch (request) {
        case RunRequest::Pause:
            return tr("Asked the run to pause after its current step…");
        case RunRequest::Continue:
            return tr("Asked the run to go on…");
        case RunRequest::Cancel:
            return tr("Asked the run to stop after its current step (its last checkpoint stays)…");
    }
    return {};
}

}  // namespace convscope::ui
