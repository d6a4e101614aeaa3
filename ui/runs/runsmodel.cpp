#include "ui/runs/runsmodel.h"

#include <QBrush>
#include <QColor>
#include <QDateTime>

namespace convscope::ui {

namespace {

QString durationText(double seconds) {
    const qint64 s = qint64(seconds + 0.5);
    if (s < 60)
        return QStringLiteral("%1 s").arg(s);
    if (s < 3600)
        return QStringLiteral("%1 min %2 s").arg(s / 60).arg(s % 60);
    return QStringLiteral("%1 h %2 min").arg(s / 3600).arg((s / 60) % 60);
}

QString accuracyText(const std::optional<double>& a) {
    return a ? QString::number(*a, 'f', 4) : QString();
}

QColor statusColour(const std::string& status) {
    if (status == "running")
        return QColor(0x1f, 0x6f, 0xb4);
    if (status == "finished")
        return QColor(0x2e, 0x7d, 0x32);
    if (status == "interrupted")
        return QColor(0xa0, 0x5a, 0x00);
    return QColor(0xb0, 0x1c, 0x1c);  // failed, damaged
}

}  // namespace

void RunsModel::setRuns(std::vector<RunSummary> runs) {
    beginResetModel();
    m_runs = std::move(runs);
    endResetModel();
}

int RunsModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : int(m_runs.size());
}

int RunsModel::columnCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant RunsModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || index.row() >= rowCount())
        return {};
    const RunSummary& r = m_runs[std::size_t(index.row())];
    const QString started = QString::fromStdString(r.started);
    if (role == Qt::DisplayRole) {
        switch (index.column()) {
            case Name:
                return QString::fromStdString(r.name);
            case Status:
                return QString::fromStdString(r.status);
            case Started:
                return QDateTime::fromString(started, Qt::ISODate)
                    .toLocalTime()
                    .toString(QStringLiteral("yyyy-MM-dd HH:mm"));
            case Duration:
                return durationText(r.durationSeconds);
            case Architecture:
                return QString::fromStdString(r.architecture) +
                       (r.recipe ? tr(" (fine-tuned)") : QString());
            case Epochs:
                return QStringLiteral("%1/%2").arg(r.epochsDone).arg(r.epochsPlanned);
            case BestAccuracy:
                return accuracyText(r.bestValidationAccuracy);
            case FinalAccuracy:
                return accuracyText(r.finalValidationAccuracy);
            case Device:
                return QString::fromStdString(r.device);
            case TrainedBy:
                return r.host.empty()
                           ? QString()
                           : tr("process %1 on %2").arg(r.pid).arg(QString::fromStdString(r.host));
            case Data:
                return QString::fromStdString(r.data);
        }
    }
    if (role == Qt::UserRole) {
        switch (index.column()) {
            case Started:
                return started;
            case Duration:
                return r.durationSeconds;
            case Epochs:
                return r.epochsDone;
            case BestAccuracy:
                return r.bestValidationAccuracy.value_or(-1);
            case FinalAccuracy:
                return r.finalValidationAccuracy.value_or(-1);
            default:
                return data(index, Qt::DisplayRole);
        }
    }
    if (role == Qt::ForegroundRole && index.column() == Status)
        return QBrush(statusColour(r.status));
    if (role == Qt::ToolTipRole) {
        QString tip = QString::fromStdString(r.path);
        if (!r.reason.empty())
            tip += QLatin1Char('\n') + QString::fromStdString(r.reason);
        if (!r.note.empty())
            tip += QLatin1Char('\n') + QString::fromStdString(r.note);
        if (!r.host.empty())
            tip += QLatin1Char('\n') +
                   tr("Trained by process %1 on %2").arg(r.pid).arg(QString::fromStdString(r.host));
        return tip;
    }
    return {};
}

QVariant RunsModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    switch (section) {
        case Name:
            return tr("Run");
        case Status:
            return tr("Status");
        case Started:
            return tr("Started");
        case Duration:
            return tr("Duration");
        case Architecture:
            return tr("Architecture");
        case Epochs:
            return tr("Epochs");
        case BestAccuracy:
            return tr("Best val acc");
        case FinalAccuracy:
            return tr("Final val acc");
        case Device:
            return tr("Device");
        case TrainedBy:
            return tr("Trained by");
        case Data:
            return tr("Data");
    }
    return {};
}

}  // namespace convscope::ui
