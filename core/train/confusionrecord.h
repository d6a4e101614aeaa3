#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace convscope {

/// The validation confusion matrix of a run's latest epoch, kept in its folder as
/// confusion.json: comparisons and the runs browser show it without evaluating again, also
/// while another process trains the run.
struct ConfusionRecord {
    int epoch = 0;  ///< 1-based; a recipe counts on through its phases
    std::vector<std::string> classes;
    std::vector<std::vector<std::int64_t>> matrix;  ///< [truth][predicted]
};

/// Writes `runDir`/confusion.json (replacing it atomically). Throws convscope::Error naming
/// the file.
void writeConfusionRecord(const std::string& runDir, const ConfusionRecord& record);

/// `runDir`/confusion.json, or nothing when the run has none (runs from before 0.2.1, or
/// before their first epoch ends). Throws convscope::Error naming the file when it is damaged:
/// not JSON, or a matrix that is not classes x classes of counts.
std::optional<ConfusionRecord> readConfusionRecord(const std::string& runDir);

}  // namespace convscope
