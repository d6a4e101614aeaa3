#pragma once

#include <stdexcept>
#include <string>

namespace convscope {

/// The one error type that leaves core's public API. `what()` reads
/// "<subject>: <reason>", where the subject is usually a file path.
class Error : public std::runtime_error {
public:
    Error(std::string subject, std::string reason);

    const std::string& subject() const { return m_subject; }
    const std::string& reason() const { return m_reason; }

private:
    std::string m_subject;
    std::string m_reason;
};

}  // namespace convscope
