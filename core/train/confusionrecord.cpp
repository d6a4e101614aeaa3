#include "train/confusionrecord.h"

#include "error.h"
#include "util/atomicfile.h"

#include <nlohmann/json.hpp>

#include <filesystem>

namespace convscope {

namespace fs = std::filesystem;

namespace {

fs::path recordPath(const std::string& runDir) {
    return fs::path(runDir) / "confusion.json";
}

}  // namespace

void writeConfusionRecord(const std::string& runDir, const ConfusionRecord& record) {
    const nlohmann::json j{
        {"epoch", record.epoch}, {"classes", record.classes}, {"matrix", record.matrix}};
    writeTextFileAtomically(recordPath(runDir).string(), j.dump());
}

std::optional<ConfusionRecord> readConfusionRecord(const std::string& runDir) {
    const fs::path file = recordPath(runDir);
    if (!fs::exists(file))
        return std::nullopt;
    return atBoundary(file.string(), [&] {
        ConfusionRecord r;
        try {
            const nlohmann::json j = nlohmann::json::parse(readTextFile(file.string()));
            r.epoch = j.at("epoch").get<int>();
            r.classes = j.at("classes").get<std::vector<std::string>>();
            r.matrix = j.at("matrix").get<std::vector<std::vector<std::int64_t>>>();
        } catch (const nlohmann::json::exception& e) {
            throw Error(file.string(), std::string("damaged (") + readableReason(e.what()) + ")");
        }
        bool square = r.matrix.size() == r.classes.size() && !r.classes.empty();
        for (const auto& row : r.matrix) {
            square = square && row.size() == r.classes.size();
            for (std::int64_t count : row)
                square = square && count >= 0;
        }
        if (!square)
            throw Error(file.string(), "damaged (the matrix is not " +
                                           std::to_string(r.classes.size()) + " x " +
                                           std::to_string(r.classes.size()) + " counts)");
        return r;
    });
}

}  // namespace convscope
