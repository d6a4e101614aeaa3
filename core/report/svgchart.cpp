#include "report/svgchart.h"

#include "util/text.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace convscope {

namespace {

/// Ticks at 1, 2 or 5 times a power of ten, about `wanted` of them across lo..hi.
std::vector<double> roundTicks(double lo, double hi, int wanted, bool wholeNumbers) {
    const double span = hi - lo;
    double step = std::pow(10.0, std::floor(std::log10(span / wanted)));
    for (double factor : {1.0, 2.0, 5.0, 10.0})
        if (span / (step * factor) <= wanted) {
            step *= factor;
            break;
        }
    if (wholeNumbers)
        step = std::max(1.0, std::round(step));
    std::vector<double> ticks;
    for (double t = std::ceil(lo / step - 1e-9) * step; t <= hi + step * 1e-9; t += step)
        ticks.push_back(std::abs(t) < step * 1e-9 ? 0.0 : t);
    return ticks;
}

std::string number(double v) {
    char text[32];
    std::snprintf(text, sizeof text, "%.4g", v);
    return text;
}

std::string coordinate(double v) {
    char text[32];
    std::snprintf(text, sizeof text, "%.1f", v);
    return text;
}

}  // namespace

std::string svgLineChart(const std::vector<ChartSeries>& series, const std::string& title,
                         const std::string& xLabel, const std::string& yLabel, int width,
                         int height) {
    const double left = 64, right = 16, top = 52, bottom = 46;
    const double plotW = width - left - right, plotH = height - top - bottom;
    std::string svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + std::to_string(width) +
                      "\" height=\"" + std::to_string(height) + "\" viewBox=\"0 0 " +
                      std::to_string(width) + " " + std::to_string(height) +
                      "\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" "
                      "font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
    svg += "<text x=\"" + coordinate(width / 2.0) +
           "\" y=\"20\" text-anchor=\"middle\" font-size=\"14\" font-weight=\"bold\">" +
           htmlEscaped(title) + "</text>\n";

    double x0 = std::numeric_limits<double>::max(), x1 = std::numeric_limits<double>::lowest();
    double y0 = x0, y1 = x1;
    bool wholeX = true;
    for (const ChartSeries& s : series)
        for (const auto& [x, y] : s.points) {
            if (!std::isfinite(x) || !std::isfinite(y))
                continue;
            x0 = std::min(x0, x), x1 = std::max(x1, x);
            y0 = std::min(y0, y), y1 = std::max(y1, y);
            wholeX = wholeX && x == std::round(x);
        }
    if (x0 > x1) {
        svg += "<text x=\"" + coordinate(width / 2.0) + "\" y=\"" + coordinate(height / 2.0) +
               "\" text-anchor=\"middle\" fill=\"#666\">no data</text>\n</svg>\n";
        return svg;
    }
    if (x1 - x0 < 1e-12)
        x0 -= 1, x1 += 1;
    if (y1 - y0 < 1e-12)
        y0 -= std::max(1e-3, std::abs(y0) * 0.05), y1 += std::max(1e-3, std::abs(y1) * 0.05);
    const double pad = (y1 - y0) * 0.05;
    y0 -= pad, y1 += pad;
    auto px = [&](double x) { return left + (x - x0) / (x1 - x0) * plotW; };
    auto py = [&](double y) { return top + (1 - (y - y0) / (y1 - y0)) * plotH; };

    // Grid and ticks.
    for (double t : roundTicks(y0, y1, 6, false)) {
        const std::string y = coordinate(py(t));
        svg += "<line x1=\"" + coordinate(left) + "\" y1=\"" + y + "\" x2=\"" +
               coordinate(left + plotW) + "\" y2=\"" + y + "\" stroke=\"#e4e4e4\"/>\n";
        svg += "<text x=\"" + coordinate(left - 6) + "\" y=\"" + coordinate(py(t) + 4) +
               "\" text-anchor=\"end\" fill=\"#444\">" + number(t) + "</text>\n";
    }
    for (double t : roundTicks(x0, x1, 10, wholeX)) {
        const std::string x = coordinate(px(t));
        svg += "<line x1=\"" + x + "\" y1=\"" + coordinate(top) + "\" x2=\"" + x + "\" y2=\"" +
               coordinate(top + plotH) + "\" stroke=\"#f0f0f0\"/>\n";
        svg += "<text x=\"" + x + "\" y=\"" + coordinate(top + plotH + 16) +
               "\" text-anchor=\"middle\" fill=\"#444\">" + number(t) + "</text>\n";
    }
    svg += "<rect x=\"" + coordinate(left) + "\" y=\"" + coordinate(top) + "\" width=\"" +
           coordinate(plotW) + "\" height=\"" + coordinate(plotH) +
           "\" fill=\"none\" stroke=\"#888\"/>\n";
    svg += "<text x=\"" + coordinate(left + plotW / 2) + "\" y=\"" + coordinate(height - 8.0) +
           "\" text-anchor=\"middle\">" + htmlEscaped(xLabel) + "</text>\n";
    svg += "<text transform=\"translate(16 " + coordinate(top + plotH / 2) +
           ") rotate(-90)\" text-anchor=\"middle\">" + htmlEscaped(yLabel) + "</text>\n";

    // The lines, with a marker on each point.
    double legendX = left;
    for (const ChartSeries& s : series) {
        std::string points;
        for (const auto& [x, y] : s.points)
            if (std::isfinite(x) && std::isfinite(y))
                points += coordinate(px(x)) + "," + coordinate(py(y)) + " ";
        svg += "<polyline fill=\"none\" stroke=\"" + s.colour + "\" stroke-width=\"2\"" +
               (s.dashed ? " stroke-dasharray=\"6 4\"" : "") + " points=\"" + points + "\"/>\n";
        for (const auto& [x, y] : s.points)
            if (std::isfinite(x) && std::isfinite(y))
                svg += "<circle cx=\"" + coordinate(px(x)) + "\" cy=\"" + coordinate(py(y)) +
                       "\" r=\"2.5\" fill=\"" + s.colour + "\"/>\n";
        // The legend: one row above the plot, left to right.
        const double ly = 40;
        svg += "<line x1=\"" + coordinate(legendX) + "\" y1=\"" + coordinate(ly - 4) + "\" x2=\"" +
               coordinate(legendX + 22) + "\" y2=\"" + coordinate(ly - 4) + "\" stroke=\"" +
               s.colour + "\" stroke-width=\"2\"" + (s.dashed ? " stroke-dasharray=\"6 4\"" : "") +
               "/>\n";
        svg += "<text x=\"" + coordinate(legendX + 28) + "\" y=\"" + coordinate(ly) + "\">" +
               htmlEscaped(s.name) + "</text>\n";
        legendX += 44 + 7.0 * double(s.name.size());
    }
    return svg + "</svg>\n";
}

}  // namespace convscope
