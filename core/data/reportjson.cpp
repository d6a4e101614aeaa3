#include "data/reportjson.h"

#include "data/datasetindex.h"

#include <nlohmann/json.hpp>

namespace convscope {

std::string datasetSummaryJson(const DatasetIndex& index) {
    nlohmann::json classes = nlohmann::json::array();
    std::size_t train = 0, validation = 0;
    for (std::size_t c = 0; c < index.classNames().size(); ++c) {
        const std::size_t t = index.count(int(c), Split::Train);
        const std::size_t v = index.count(int(c), Split::Validation);
        train += t;
        validation += v;
        classes.push_back({{"name", index.classNames()[c]}, {"train", t}, {"validation", v}});
    }
    nlohmann::json skipped = nlohmann::json::array();
    for (const auto& s : index.report().skipped)
        skipped.push_back({{"path", s.path}, {"reason", s.reason}});
    const nlohmann::json j{
        {"root", index.root()},
        {"layout",
         index.layout() == DatasetLayout::ClassFolders ? "class-folders" : "train-validation"},
        {"classes", classes},
        {"images", train + validation},
        {"train", train},
        {"validation", validation},
        {"skipped", skipped},
        {"warnings", index.report().warnings},
    };
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace convscope
