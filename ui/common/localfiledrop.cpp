#include "ui/common/localfiledrop.h"

#include <QDragEnterEvent>
#include <QDropEvent>
#include <QMimeData>
#include <QUrl>

namespace convscope::ui {

namespace {

QString firstLocalPath(const QMimeData* data) {
    if (!data || !data->hasUrls())
        return {};
    for (const QUrl& url : data->urls())
        if (url.isLocalFile())
            return url.toLocalFile();
    return {};
}

}  // namespace

void acceptLocalFileDrag(QDragEnterEvent* event) {
    if (!firstLocalPath(event->mimeData()).isEmpty())
        event->acceptProposedAction();
}

QString takeDroppedLocalPath(QDropEvent* event) {
    const QString path = firstLocalPath(event->mimeData());
    if (!path.isEmpty())
        event->acceptProposedAction();
    return path;
}

}  // namespace convscope::ui
