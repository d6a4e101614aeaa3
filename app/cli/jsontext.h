#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace convscope::cli {

/// One line of JSON for standard output. Never throws on text that is not UTF-8: callers
/// escape file names (escapeInvalidUtf8); any other stray byte becomes U+FFFD.
inline std::string jsonText(const nlohmann::json& j) {
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace convscope::cli
