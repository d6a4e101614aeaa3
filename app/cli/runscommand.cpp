#include "cli/args.h"
#include "cli/commands.h"
#include "cli/jsontext.h"

#include "error.h"
#include "report/runreport.h"
#include "train/runcatalog.h"
#include "train/runcontrol.h"
#include "train/runstatus.h"
#include "util/atomicfile.h"
#include "util/text.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>

namespace convscope::cli {

namespace {

nlohmann::json optionalNumber(const std::optional<double>& v) {
    return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

nlohmann::json runJson(const RunSummary& r) {
    nlohmann::json j{{"path", r.path},
                     {"name", r.name},
                     {"status", r.status},
                     {"started", r.started},
                     {"duration_s", r.durationSeconds},
                     {"data", r.data},
                     {"architecture", r.architecture},
                     {"epochs_done", r.epochsDone},
                     {"best_val_accuracy", optionalNumber(r.bestValidationAccuracy)},
                     {"final_val_accuracy", optionalNumber(r.finalValidationAccuracy)},
                     {"device", r.device},
                     {"note", r.note},
                     {"epochs_planned", r.epochsPlanned},
                     {"recipe", r.recipe},
                     {"pid", r.pid},
                     {"host", r.host},
                     {"paused", r.paused}};
    if (!r.reason.empty())
        j["reason"] = r.reason;
    return j;
}

std::string accuracyText(const std::optional<double>& v) {
    char text[16] = "-";
    if (v)
        std::snprintf(text, sizeof text, "%.4f", *v);
    return text;
}

}  // namespace

int controlCommand(const std::vector<std::string>& argv) {
    const Args args(argv, {}, {});
    if (args.positionals().size() != 2)
        throw UsageError("control takes RUN_DIR and one of pause, continue, cancel");
    const std::string& runDir = args.positionals()[0];
    const std::optional<RunRequest> request = runRequestFromName(args.positionals()[1]);
    if (!request)
        throw UsageError("control asks pause, continue or cancel, not '" + args.positionals()[1] +
                         "'");
    const RunSummary run = describeRun(runDir);
    if (run.status != "running")
        throw Error(runDir, "is not training (" + run.status +
                                (run.reason.empty() ? "" : ": " + run.reason) +
                                "); only a running run can be asked to " +
                                runRequestName(*request));
    requestRun(runDir, *request);
    std::printf("Asked %s (process %lld on %s) to %s; it does so within a step\n",
                escapeInvalidUtf8(runDir).c_str(), run.pid, run.host.c_str(),
                runRequestName(*request));
    return 0;
}

int runsCommand(const std::vector<std::string>& argv) {
    const Args args(argv, {"workspace"}, {"json"});
    if (args.positionals().size() > 1)
        throw UsageError("runs takes at most one folder");
    const std::string workspace = !args.positionals().empty() ? args.positionals()[0]
                                  : args.value("workspace")   ? *args.value("workspace")
                                                              : defaultWorkspace();
    const std::vector<RunSummary> runs = listRuns(workspace);
    if (args.flag("json")) {
        nlohmann::json list = nlohmann::json::array();
        for (const RunSummary& r : runs)
            list.push_back(runJson(r));
        std::cout << jsonText(list) << std::endl;
        return 0;
    }
    if (runs.empty()) {
        std::printf("No runs in %s\n", escapeInvalidUtf8(workspace).c_str());
        return 0;
    }
    std::printf("%-24s %-11s %-20s %-11s %7s %8s %8s %s\n", "name", "status", "started", "arch",
                "epochs", "best", "final", "device");
    for (const RunSummary& r : runs) {
        const std::string epochs =
            std::to_string(r.epochsDone) + "/" + std::to_string(r.epochsPlanned);
        std::printf("%-24s %-11s %-20s %-11s %7s %8s %8s %s\n", escapeInvalidUtf8(r.name).c_str(),
                    r.paused ? "paused" : r.status.c_str(), r.started.c_str(),
                    r.architecture.c_str(), epochs.c_str(),
                    accuracyText(r.bestValidationAccuracy).c_str(),
                    accuracyText(r.finalValidationAccuracy).c_str(), r.device.c_str());
        if (!r.reason.empty())
            std::printf("  %s\n", escapeInvalidUtf8(r.reason).c_str());
    }
    return 0;
}

int reportCommand(const std::vector<std::string>& argv) {
    const Args args(argv, {"out", "misclassified", "cam-per-class", "image-size", "batch"}, {});
    if (args.positionals().size() != 1)
        throw UsageError("report takes one run folder");
    const auto out = args.value("out");
    if (!out)
        throw UsageError("needs --out REPORT.html");
    ReportOptions o;
    o.misclassified = int(args.integer("misclassified", o.misclassified));
    o.camPerClass = int(args.integer("cam-per-class", o.camPerClass));
    o.imageSize = int(args.integer("image-size", o.imageSize));
    o.batchSize = int(args.integer("batch", o.batchSize));
    if (o.misclassified < 0 || o.camPerClass < 0 || o.imageSize < 16 || o.batchSize < 1)
        throw UsageError(
            "--misclassified and --cam-per-class take 0 or more, --image-size 16 "
            "or more, --batch 1 or more");
    const RunReport report = gatherRunReport(args.positionals()[0], o);
    writeTextFileAtomically(*out, reportHtml(report));
    std::printf("Wrote %s: %s, %zu misclassified and %zu activation pictures\n",
                escapeInvalidUtf8(*out).c_str(), escapeInvalidUtf8(report.summary.name).c_str(),
                report.misclassified.size(), report.activations.size());
    for (const std::string& note : report.notes)
        std::fprintf(stderr, "Left out: %s\n", escapeInvalidUtf8(note).c_str());
    return 0;
}

}  // namespace convscope::cli
