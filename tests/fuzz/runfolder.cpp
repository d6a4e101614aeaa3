// What the runs browser and the report read from a run folder, on arbitrary files. The input
// holds the folder's files one after another, separated by a line "#####": config.json,
// status.json, history.csv, confusion.json, run.json, import-report.json and recipe.json (an
// empty part: the file is absent). The promises: describeRun never throws; readConfusionRecord and
// readRunHistory throw only convscope::Error naming their file; the report of the folder
// (no weights in it, so nothing is evaluated) is made, as valid UTF-8, or refused with an Error.
#include "error.h"
#include "fuzzinput.h"
#include "report/runreport.h"
#include "train/confusionrecord.h"
#include "train/runcatalog.h"
#include "util/text.h"

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

namespace {

using namespace convscope;
namespace fs = std::filesystem;

const char* const kFiles[] = {"config.json", "status.json",        "history.csv", "confusion.json",
                              "run.json",    "import-report.json", "recipe.json"};

template <typename Read>
void expectOnlyErrorsAbout(const std::string& subject, Read&& read) {
    try {
        read();
    } catch (const Error& e) {
        if (e.subject() != subject || e.reason().empty())
            std::abort();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const fs::path dir = fuzz::scratchFolder() / "run";
    std::error_code ec;
    fs::remove_all(dir, ec);
    fs::create_directories(dir);
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const std::string_view separator = "\n#####\n";
    std::size_t at = 0;
    for (const char* name : kFiles) {
        const std::size_t end = std::min(input.find(separator, at), input.size());
        const std::string_view part = input.substr(at, end - at);
        if (!part.empty())
            fuzz::writeScratchFile("run/" + std::string(name),
                                   reinterpret_cast<const std::uint8_t*>(part.data()), part.size());
        at = std::min(input.size(), end + separator.size());
    }
    const std::string folder = dir.string();

    const RunSummary summary = describeRun(folder);
    if (summary.status.empty())
        std::abort();
    expectOnlyErrorsAbout((dir / "confusion.json").string(), [&] { readConfusionRecord(folder); });
    expectOnlyErrorsAbout((dir / "history.csv").string(), [&] { readRunHistory(folder); });
    try {
        if (!isValidUtf8(reportHtml(gatherRunReport(folder))))
            std::abort();
    } catch (const Error& e) {
        if (e.reason().empty())
            std::abort();
    }
    return 0;
}
