#pragma once

#include <QString>

namespace convscope::ui {

/// Prints a run report's HTML (core/report: pictures and charts embedded as data: URLs) to a
/// PDF file, A4, through Qt's own text layout. Returns an empty string on success, else why
/// it failed.
QString printReportToPdf(const QString& html, const QString& pdfPath);

}  // namespace convscope::ui
