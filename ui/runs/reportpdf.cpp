#include "ui/runs/reportpdf.h"

#include <QFile>
#include <QImage>
#include <QPageLayout>
#include <QPageSize>
#include <QPdfWriter>
#include <QRegularExpression>
#include <QTextDocument>
#include <QUrl>

namespace convscope::ui {

QString printReportToPdf(const QString& html, const QString& pdfPath) {
    QTextDocument document;
    // Qt's HTML layout fetches images as resources: the embedded ones are decoded here
    // (SVG charts through Qt's SVG image plugin).
    static const QRegularExpression embedded(
        QStringLiteral("src=\"(data:image/([a-z+]+);base64,([A-Za-z0-9+/=]+))\""));
    for (auto it = embedded.globalMatch(html); it.hasNext();) {
        const QRegularExpressionMatch m = it.next();
        const QByteArray format = m.captured(2) == QLatin1String("svg+xml") ? "SVG" : nullptr;
        const QImage image =
            QImage::fromData(QByteArray::fromBase64(m.captured(3).toLatin1()), format);
        if (image.isNull())
            return QStringLiteral("%1: a picture in the report cannot be decoded (%2)")
                .arg(pdfPath, m.captured(2));
        document.addResource(QTextDocument::ImageResource, QUrl(m.captured(1)), image);
    }
    document.setHtml(html);
    {
        QPdfWriter writer(pdfPath);  // the file is complete once the writer is gone
        writer.setPageSize(QPageSize(QPageSize::A4));
        writer.setPageMargins(QMarginsF(12, 12, 12, 12), QPageLayout::Millimeter);
        writer.setTitle(document.metaInformation(QTextDocument::DocumentTitle));
        writer.setCreator(QStringLiteral("ConvScope"));
        document.print(&writer);
    }
    QFile written(pdfPath);
    if (!written.exists() || written.size() == 0)
        return QStringLiteral("%1: cannot be written").arg(pdfPath);
    return {};
}

}  // namespace convscope::ui
