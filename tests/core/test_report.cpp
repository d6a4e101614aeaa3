// What reports and the runs browser build on: base64 and HTML escaping, the SVG line chart,
// confusion.json, new run folder names, and the report of a run folder (with its weights
// evaluated again, without them, and for a folder that is no run).
#include "report/runreport.h"

#include "error.h"
#include "report/svgchart.h"
#include "testimages.h"
#include "train/confusionrecord.h"
#include "train/trainer.h"
#include "trainerfixtures.h"
#include "util/text.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>

using namespace convscope;
using namespace convscope::test;
namespace fs = std::filesystem;

namespace {

std::string base64Of(const std::string& text) {
    return base64({reinterpret_cast<const std::uint8_t*>(text.data()), text.size()});
}

std::size_t count(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1))
        ++n;
    return n;
}

}  // namespace

TEST(ReportText, base64MatchesTheRfcVectors) {
    // RFC 4648, section 10.
    EXPECT_EQ(base64Of(""), "");
    EXPECT_EQ(base64Of("f"), "Zg==");
    EXPECT_EQ(base64Of("fo"), "Zm8=");
    EXPECT_EQ(base64Of("foo"), "Zm9v");
    EXPECT_EQ(base64Of("foob"), "Zm9vYg==");
    EXPECT_EQ(base64Of("fooba"), "Zm9vYmE=");
    EXPECT_EQ(base64Of("foobar"), "Zm9vYmFy");
    const std::uint8_t high[] = {0xff, 0xfe, 0x00};
    EXPECT_EQ(base64(high), "//4A");
}

TEST(ReportText, htmlEscapingCoversMarkupQuotesAndInvalidUtf8) {
    EXPECT_EQ(htmlEscaped("a<b> & \"c\" 'd'"), "a&lt;b&gt; &amp; &quot;c&quot; &#39;d&#39;");
    EXPECT_EQ(htmlEscaped("caf\xE9"), "caf\\xE9");
    EXPECT_EQ(htmlEscaped("ü"), "ü");
}

TEST(SvgChart, drawsEachSeriesWithAPointPerValueAndEscapesItsText) {
    ChartSeries a{"train <1>", "#1f77b4", {{1, 0.5}, {2, 0.6}, {3, 0.7}}, true};
    ChartSeries b{"validation", "#ff7f0e", {{1, 0.4}, {2, 0.45}, {3, 0.5}}};
    const std::string svg = svgLineChart({a, b}, "Accuracy & loss", "epoch", "accuracy");
    EXPECT_EQ(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0), 0u);
    EXPECT_NE(svg.find("</svg>"), std::string::npos);
    EXPECT_EQ(count(svg, "<polyline"), 2u);
    EXPECT_EQ(count(svg, "<circle"), 6u);
    EXPECT_NE(svg.find("train &lt;1&gt;"), std::string::npos);
    EXPECT_NE(svg.find("Accuracy &amp; loss"), std::string::npos);
    EXPECT_EQ(svg.find("train <1>"), std::string::npos);
    // Whole-number epochs: ticks 1, 2, 3 and no 1.5.
    EXPECT_NE(svg.find(">2</text>"), std::string::npos);
    EXPECT_EQ(svg.find(">1.5</text>"), std::string::npos);
}

TEST(SvgChart, aChartWithoutDataSaysSo) {
    const std::string svg = svgLineChart({{"none", "#000", {}}}, "Loss", "epoch", "loss");
    EXPECT_NE(svg.find("no data"), std::string::npos);
    EXPECT_EQ(count(svg, "<polyline"), 0u);
}

TEST(ConfusionRecord, roundTripsAndRefusesAMatrixThatIsNotSquare) {
    TempDir dir;
    EXPECT_FALSE(readConfusionRecord(dir.path()));
    writeConfusionRecord(dir.path(), {3, {"cat", "dog"}, {{5, 1}, {2, 4}}});
    const std::optional<ConfusionRecord> r = readConfusionRecord(dir.path());
    ASSERT_TRUE(r);
    EXPECT_EQ(r->epoch, 3);
    EXPECT_EQ(r->classes, (std::vector<std::string>{"cat", "dog"}));
    EXPECT_EQ(r->matrix, (std::vector<std::vector<std::int64_t>>{{5, 1}, {2, 4}}));

    const fs::path file = fs::path(dir.path()) / "confusion.json";
    for (const char* damaged : {R"({"epoch":1,"classes":["a","b"],"matrix":[[1,2]]})",
                                R"({"epoch":1,"classes":["a"],"matrix":[[-1]]})",
                                R"({"epoch":1,"classes":["a"]})", "{"}) {
        std::ofstream(file) << damaged;
        try {
            readConfusionRecord(dir.path());
            ADD_FAILURE() << damaged;
        } catch (const Error& e) {
            EXPECT_EQ(e.subject(), file.string());
            EXPECT_NE(std::string(e.reason()).find("damaged"), std::string::npos);
        }
    }
}

TEST(RunFolders, aNewRunFolderNeverTakesAnExistingName) {
    TempDir dir;
    const std::string first = newRunFolder(dir.path());
    EXPECT_TRUE(
        std::regex_match(fs::path(first).filename().string(), std::regex(R"(\d{8}-\d{6})")));
    fs::create_directories(first);
    const std::string second = newRunFolder(dir.path());
    EXPECT_NE(second, first);
    fs::create_directories(second);
    const std::string third = newRunFolder(dir.path());
    EXPECT_NE(third, first);
    EXPECT_NE(third, second);
}

TEST(RunReport, aTrainedRunIsEvaluatedAgainAndItsMatrixIsTheRecordedOne) {
    TempDir dir;
    makeColourDataset(dir, 10);
    TrainConfig c = smallConfig(dir, "runs/r", 2);
    c.model.head = Head::GlobalAveragePool;
    Trainer(c, nullptr).run();
    ReportOptions o;
    o.misclassified = 100;
    o.camPerClass = 1;
    const RunReport r = gatherRunReport(c.runDir, o);
    EXPECT_TRUE(r.notes.empty()) << r.notes.front();
    EXPECT_EQ(r.history.size(), 2u);
    EXPECT_EQ(r.summary.status, "finished");
    // The final weights on the same split: the matrix the last epoch recorded.
    const std::optional<ConfusionRecord> recorded = readConfusionRecord(c.runDir);
    ASSERT_TRUE(recorded);
    EXPECT_EQ(r.confusion, recorded->matrix);
    EXPECT_EQ(r.classNames, recorded->classes);
    std::int64_t wrong = 0;
    for (std::size_t t = 0; t < r.confusion.size(); ++t)
        for (std::size_t p = 0; p < r.confusion.size(); ++p)
            wrong += t == p ? 0 : r.confusion[t][p];
    EXPECT_EQ(std::int64_t(r.misclassified.size()), wrong);
    for (const ReportPicture& p : r.misclassified)
        EXPECT_NE(p.truth, p.predicted);
    EXPECT_EQ(r.activations.size(), r.classNames.size());  // one per class
    EXPECT_EQ(r.activationMethod, "CAM");
    const std::string html = reportHtml(r);
    EXPECT_TRUE(isValidUtf8(html));
    EXPECT_EQ(count(html, "src=\"data:image/svg+xml;base64,"), 2u);
    EXPECT_EQ(count(html, "src=\"data:image/jpeg;base64,"),
              r.misclassified.size() + r.activations.size());
    EXPECT_EQ(html.find("<script"), std::string::npos);
}

TEST(RunReport, withoutItsWeightsTheRecordedMatrixIsShownAndTheNoteSaysWhy) {
    TempDir dir;
    makeColourDataset(dir, 6);
    const TrainConfig c = smallConfig(dir, "runs/r", 1);
    Trainer(c, nullptr).run();
    fs::remove(fs::path(c.runDir) / "weights.h5");
    fs::remove(fs::path(c.runDir) / "latest.h5");
    const RunReport r = gatherRunReport(c.runDir);
    ASSERT_EQ(r.notes.size(), 1u);
    EXPECT_NE(r.notes[0].find("no weights"), std::string::npos);
    EXPECT_EQ(r.confusion, readConfusionRecord(c.runDir)->matrix);
    EXPECT_NE(r.confusionSource.find("epoch 1"), std::string::npos);
    EXPECT_TRUE(r.misclassified.empty());
    EXPECT_NE(reportHtml(r).find("Not in this report"), std::string::npos);
}

TEST(RunReport, aFolderThatIsNoRunIsRefused) {
    TempDir dir;
    try {
        gatherRunReport(dir.path());
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.subject(), dir.path());
        EXPECT_NE(std::string(e.reason()).find("not a ConvScope run folder"), std::string::npos);
    }
}
