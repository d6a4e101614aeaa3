#include "report/runreport.h"

#include "report/svgchart.h"
#include "runtime.h"
#include "train/evaluation.h"
#include "util/text.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <span>

namespace convscope {

namespace {

std::string fixed(double v, int decimals) {
    char text[32];
    std::snprintf(text, sizeof text, "%.*f", decimals, v);
    return text;
}

std::string percent(double v) {
    return fixed(100.0 * v, 1) + "%";
}

std::string durationText(double seconds) {
    const long long s = std::llround(seconds);
    char text[32];
    if (s >= 3600)
        std::snprintf(text, sizeof text, "%lld h %02lld min", s / 3600, s / 60 % 60);
    else
        std::snprintf(text, sizeof text, "%lld min %02lld s", s / 60, s % 60);
    return text;
}

std::string dataUrl(const std::string& mime, std::span<const std::uint8_t> bytes) {
    return "data:" + mime + ";base64," + base64(bytes);
}

std::string svgImage(const std::string& svg, const std::string& alt) {
    const auto* bytes = reinterpret_cast<const std::uint8_t*>(svg.data());
    return "<img class=\"chart\" width=\"600\" height=\"300\" alt=\"" + htmlEscaped(alt) +
           "\" src=\"" + dataUrl("image/svg+xml", {bytes, svg.size()}) + "\">";
}

std::string row(std::initializer_list<std::string> cells, const char* tag = "td") {
    std::string html = "<tr>";
    for (const std::string& c : cells)
        html += std::string("<") + tag + ">" + c + "</" + tag + ">";
    return html + "</tr>\n";
}

std::string overview(const RunReport& r) {
    const RunSummary& s = r.summary;
    std::string html = "<h1>" + htmlEscaped(s.name) + "</h1>\n";
    if (s.status == "damaged" || s.status == "failed" || s.status == "interrupted")
        html += "<p class=\"banner " + s.status + "\"><b>This run is " + s.status + "</b>" +
                (s.reason.empty() ? "" : ": " + htmlEscaped(s.reason)) + "</p>\n";
    if (!s.note.empty())
        html += "<p class=\"note\">" + htmlEscaped(s.note) + "</p>\n";
    auto accuracy = [](const std::optional<double>& v) { return v ? percent(*v) : "-"; };
    html += "<table class=\"facts\" cellspacing=\"0\" cellpadding=\"3\">\n";
    html += row({"Status", htmlEscaped(s.status)});
    html += row({"Started", htmlEscaped(s.started) + " (UTC), trained for " +
                                durationText(s.durationSeconds)});
    html += row({"Architecture", htmlEscaped(s.architecture) +
                                     (s.recipe ? " (two-phase fine-tuning recipe)" : "")});
    html +=
        row({"Epochs", std::to_string(s.epochsDone) + " of " + std::to_string(s.epochsPlanned)});
    html += row({"Validation accuracy", "best " + accuracy(s.bestValidationAccuracy) + ", final " +
                                            accuracy(s.finalValidationAccuracy)});
    html += row({"Device", htmlEscaped(s.device.empty() ? "-" : s.device)});
    if (!s.host.empty())
        html +=
            row({"Trained by", "process " + std::to_string(s.pid) + " on " + htmlEscaped(s.host)});
    html += row({"Data", htmlEscaped(s.data)});
    html += row({"Run folder", htmlEscaped(s.path)});
    return html + "</table>\n";
}

std::string settingsSection(const RunReport& r) {
    if (r.settings.empty())
        return {};
    std::string html =
        "<h2>Settings</h2>\n<table class=\"grid\" cellspacing=\"0\" "
        "cellpadding=\"3\" border=\"1\">\n" +
        row({"setting", "value"}, "th");
    for (const auto& [key, value] : r.settings)
        html += row({"<code>" + htmlEscaped(key) + "</code>", htmlEscaped(value)});
    return html + "</table>\n";
}

std::string dataSection(const RunReport& r) {
    if (r.classes.empty())
        return {};
    std::string html =
        "<h2>Data</h2>\n<table class=\"grid\" cellspacing=\"0\" cellpadding=\"3\" "
        "border=\"1\">\n" +
        row({"class", "training images", "validation images"}, "th");
    long long train = 0, validation = 0;
    for (const RunReport::ClassCount& c : r.classes) {
        html += row({htmlEscaped(c.name), std::to_string(c.train), std::to_string(c.validation)});
        train += c.train;
        validation += c.validation;
    }
    html += row({"<b>total</b>", "<b>" + std::to_string(train) + "</b>",
                 "<b>" + std::to_string(validation) + "</b>"});
    html += "</table>\n";
    if (r.skipped.empty()) {
        html += "<p>No file was skipped.</p>\n";
    } else {
        html += "<p>" + std::to_string(r.skipped.size()) +
                " files were skipped:</p>\n<ul class=\"skipped\">\n";
        const std::size_t shown = std::min<std::size_t>(r.skipped.size(), 200);
        for (std::size_t i = 0; i < shown; ++i)
            html += "<li><code>" + htmlEscaped(r.skipped[i].first) +
                    "</code>: " + htmlEscaped(r.skipped[i].second) + "</li>\n";
        if (shown < r.skipped.size())
            html += "<li>and " + std::to_string(r.skipped.size() - shown) + " more</li>\n";
        html += "</ul>\n";
    }
    for (const std::string& w : r.dataWarnings)
        html += "<p class=\"warning\">" + htmlEscaped(w) + "</p>\n";
    return html;
}

std::string curvesSection(const RunReport& r) {
    if (r.history.empty())
        return {};
    ChartSeries trainAcc{"training", "#1f77b4", {}, true}, valAcc{"validation", "#ff7f0e", {}};
    ChartSeries trainLoss = trainAcc, valLoss = valAcc;
    for (const RunEpoch& e : r.history) {
        trainAcc.points.emplace_back(e.epoch, e.trainAccuracy);
        valAcc.points.emplace_back(e.epoch, e.validationAccuracy);
        trainLoss.points.emplace_back(e.epoch, e.trainLoss);
        valLoss.points.emplace_back(e.epoch, e.validationLoss);
    }
    return "<h2>Curves</h2>\n<p>" +
           svgImage(svgLineChart({trainAcc, valAcc}, "Accuracy", "epoch", "accuracy"),
                    "accuracy per epoch") +
           "</p>\n<p>" +
           svgImage(svgLineChart({trainLoss, valLoss}, "Loss", "epoch", "cross-entropy loss"),
                    "loss per epoch") +
           "</p>\n";
}

std::string confusionSection(const RunReport& r) {
    if (r.confusion.empty())
        return {};
    Evaluation e;
    e.confusion = r.confusion;
    std::string html = "<h2>Confusion matrix</h2>\n<p>" + htmlEscaped(r.confusionSource) +
                       ". Rows are the true classes, columns what the model predicted; the "
                       "shade is the share of the row.</p>\n";
    html +=
        "<table class=\"confusion\" cellspacing=\"0\" cellpadding=\"4\" border=\"1\">\n"
        "<tr><th>true \\ predicted</th>";
    for (const std::string& name : r.classNames)
        html += "<th>" + htmlEscaped(name) + "</th>";
    html += "</tr>\n";
    for (std::size_t t = 0; t < r.confusion.size(); ++t) {
        long long total = 0;
        for (std::int64_t n : r.confusion[t])
            total += n;
        html += "<tr><th>" + htmlEscaped(t < r.classNames.size() ? r.classNames[t] : "?") + "</th>";
        for (std::size_t p = 0; p < r.confusion[t].size(); ++p) {
            const double share = total ? double(r.confusion[t][p]) / double(total) : 0.0;
            // White to blue (diagonal) or to red (mistakes) by the share of the row.
            const int fade = int(std::lround(255 * (1 - 0.75 * share)));
            char colour[8];
            std::snprintf(colour, sizeof colour, "#%02x%02x%02x", t == p ? fade : 255, fade,
                          t == p ? 255 : fade);
            html += std::string("<td align=\"right\" bgcolor=\"") + colour +
                    "\" style=\"background-color:" + colour + "\">" +
                    std::to_string(r.confusion[t][p]) + "</td>";
        }
        html += "</tr>\n";
    }
    html +=
        "</table>\n<h2>Per class</h2>\n<table class=\"grid\" cellspacing=\"0\" "
        "cellpadding=\"3\" border=\"1\">\n" +
        row({"class", "precision", "recall", "validation images"}, "th");
    for (std::size_t c = 0; c < r.confusion.size(); ++c) {
        long long total = 0;
        for (std::int64_t n : r.confusion[c])
            total += n;
        html +=
            row({htmlEscaped(c < r.classNames.size() ? r.classNames[c] : "?"),
                 percent(e.precision(int(c))), percent(e.recall(int(c))), std::to_string(total)});
    }
    html += "</table>\n<p>Accuracy " + percent(e.accuracy());
    if (r.validationLoss >= 0)
        html += ", mean cross-entropy " + fixed(r.validationLoss, 4);
    return html + ".</p>\n";
}

std::string pictureGrid(const std::vector<ReportPicture>& pictures) {
    std::string html = "<table class=\"pictures\" cellspacing=\"6\">\n";
    const std::size_t columns = 4;
    for (std::size_t i = 0; i < pictures.size(); i += columns) {
        html += "<tr>";
        for (std::size_t k = i; k < std::min(pictures.size(), i + columns); ++k) {
            const ReportPicture& p = pictures[k];
            const std::string file = p.path.substr(p.path.find_last_of('/') + 1);
            // Small images (28 px Fashion-MNIST) are shown enlarged, pixels kept sharp.
            const int longer = std::max({p.width, p.height, 1});
            const int scale = std::max(1, 128 / longer);
            html += "<td valign=\"top\"><img width=\"" + std::to_string(p.width * scale) +
                    "\" height=\"" + std::to_string(p.height * scale) + "\" src=\"" +
                    dataUrl("image/jpeg", p.jpeg) + "\" alt=\"" + htmlEscaped(file) +
                    "\"><br><small>" + htmlEscaped(file) + "<br>true <b>" + htmlEscaped(p.truth) +
                    "</b>, predicted <b>" + htmlEscaped(p.predicted) + "</b> (" +
                    percent(p.confidence) + ")</small></td>";
        }
        html += "</tr>\n";
    }
    return html + "</table>\n";
}

std::string picturesSections(const RunReport& r) {
    std::string html;
    if (!r.confusion.empty() && r.validationLoss >= 0) {
        html += "<h2>Most confidently misclassified</h2>\n";
        html += r.misclassified.empty()
                    ? "<p>No validation image was misclassified.</p>\n"
                    : "<p>The validation images the model got wrong with the highest "
                      "confidence, most confident first.</p>\n" +
                          pictureGrid(r.misclassified);
    }
    if (!r.activations.empty()) {
        html += "<h2>Class activation maps</h2>\n<p>" + htmlEscaped(r.activationMethod) +
                " on layer <code>" + htmlEscaped(r.activationLayer) + "</code> (" +
                std::to_string(r.activationMapWidth) + " &times; " +
                std::to_string(r.activationMapHeight) +
                " maps) for the predicted class, over validation images of each class (red: "
                "what drove the prediction most; the box holds the strongest region).";
        if (r.activationMapWidth * r.activationMapHeight <= 1)
            html +=
                " <b>At this input size the layer's maps are a single cell, so they cannot "
                "say where in the image the evidence is: train at a larger size to see "
                "it.</b>";
        html += "</p>\n" + pictureGrid(r.activations);
    }
    return html;
}

// Font sizes in points: a browser and Qt's print layout (the window's PDF export) agree on
// those, while pixel sizes come out tiny on a 1200 dpi page.
const char* kStyle = R"(body { font-family: "DejaVu Sans", Helvetica, Arial, sans-serif;
  font-size: 10.5pt; color: #222; max-width: 1100px; margin: 24px auto; padding: 0 16px; }
h1 { font-size: 18pt; margin-bottom: 4px; }
h2 { font-size: 13.5pt; margin-top: 28px; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; }
table.grid td, table.grid th, table.confusion td, table.confusion th {
  border: 1px solid #ccc; padding: 3px 8px; }
table.facts td:first-child { color: #666; padding-right: 16px; }
th { background: #f3f3f3; text-align: left; }
table.pictures td { width: 200px; }
table.pictures img { image-rendering: pixelated; }
p.banner { padding: 8px; background: #fde2e1; border: 1px solid #e0a0a0; }
p.note { font-style: italic; }
p.warning, ul.notes li { color: #8a5a00; }
code { font-size: 9pt; }
)";

}  // namespace

std::string reportHtml(const RunReport& r) {
    std::string html =
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<title>" +
        htmlEscaped(r.summary.name) + " - ConvScope report</title>\n<style>\n" + kStyle +
        "</style>\n</head>\n<body>\n";
    html += overview(r);
    html += curvesSection(r);
    html += confusionSection(r);
    html += picturesSections(r);
    html += dataSection(r);
    html += settingsSection(r);
    if (!r.notes.empty()) {
        html += "<h2>Not in this report</h2>\n<ul class=\"notes\">\n";
        for (const std::string& n : r.notes)
            html += "<li>" + htmlEscaped(n) + "</li>\n";
        html += "</ul>\n";
    }
    html += "<hr>\n<p><small>Written by ConvScope " + std::string(convscopeVersion()) + " on " +
            htmlEscaped(r.written) + " (UTC).</small></p>\n</body>\n</html>\n";
    return html;
}

}  // namespace convscope
