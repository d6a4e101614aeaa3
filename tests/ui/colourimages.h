// Test data for the UI tests: folders of small solid-colour PNGs, one colour per class.
#pragma once

#include <QColor>
#include <QDir>
#include <QImage>
#include <QString>

namespace convscope::ui::test {

/// `count` side x side PNGs named 0.png, 1.png, ... in `folder`, each a shade of `colour`
/// (red and blue shift with the index, so that no two are the same). Returns false when a
/// file cannot be written.
inline bool writeColourImages(const QString& folder, const QColor& colour, int count,
                              int side = 24) {
    QDir().mkpath(folder);
    for (int i = 0; i < count; ++i) {
        QImage img(side, side, QImage::Format_RGB888);
        img.fill(QColor(qBound(0, colour.red() + i, 255), colour.green(),
                        qBound(0, colour.blue() + i, 255)));
        if (!img.save(QStringLiteral("%1/%2.png").arg(folder).arg(i)))
            return false;
    }
    return true;
}

}  // namespace convscope::ui::test
