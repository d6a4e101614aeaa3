#pragma once

#include <string>
#include <utility>
#include <vector>

namespace convscope {

/// One line of a chart: its legend name, colour ("#1f77b4") and (x, y) points in x order.
struct ChartSeries {
    std::string name;
    std::string colour;
    std::vector<std::pair<double, double>> points;
    bool dashed = false;
};

/// A line chart as a standalone SVG document (width x height user units): axes with round
/// ticks, the axis labels, a marker on each point and a legend. Whole-number x ticks when the
/// x values are whole numbers (epochs). Text is escaped; an empty chart says "no data".
std::string svgLineChart(const std::vector<ChartSeries>& series, const std::string& title,
                         const std::string& xLabel, const std::string& yLabel, int width = 640,
                         int height = 320);

}  // namespace convscope
