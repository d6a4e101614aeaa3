#pragma once

#include <string>

namespace convscope::cli {

/// `s` as a JSON string literal, quotes included.
std::string jsonString(const std::string& s);

}  // namespace convscope::cli
