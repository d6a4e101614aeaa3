#include "error.h"

namespace convscope {

namespace {
std::string joinMessage(const std::string& subject, const std::string& reason) {
    return subject.empty() ? reason : subject + ": " + reason;
}
}  // namespace

Error::Error(std::string subject, std::string reason)
    : std::runtime_error(joinMessage(subject, reason)),
      m_subject(std::move(subject)),
      m_reason(std::move(reason)) {}

}  // namespace convscope
