#pragma once

#include <stdexcept>
#include <string>
#include <utility>

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

/// Training ran out of (GPU) memory and stopped at its last checkpoint. `largestBatch` is
/// the largest batch size a short probe found to fit (0: none).
class OutOfMemory : public Error {
public:
    OutOfMemory(std::string subject, std::string reason, int batchSize, int largestBatch)
        : Error(std::move(subject), std::move(reason)),
          m_batchSize(batchSize),
          m_largestBatch(largestBatch) {}

    int batchSize() const { return m_batchSize; }
    int largestBatch() const { return m_largestBatch; }

private:
    int m_batchSize;
    int m_largestBatch;
};

}  // namespace convscope
