#pragma once

#include <string>

namespace convscope {

class DatasetIndex;

/// The dataset as one JSON object: root, layout, classes with train/validation counts,
/// totals, skipped files with reasons, warnings. (`convscope scan --json`, import-report.json)
std::string datasetSummaryJson(const DatasetIndex& index);

}  // namespace convscope
