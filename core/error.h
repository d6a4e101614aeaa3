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

/// Turns the exception being handled into convscope::Error about `subject`, with the
/// library's reason on one line and no backtrace: c10 (LibTorch), OpenCV, HDF5, JSON,
/// std::filesystem, bad_alloc and other std exceptions. convscope::Error (and OutOfMemory)
/// passes through unchanged. Call only inside a catch block.
[[noreturn]] void rethrowAsError(const std::string& subject);

/// Runs `body`, and anything it throws leaves as convscope::Error about `subject`: the one
/// boundary that core's public entry points go through (docs/architecture.md, "Errors").
template <class Body>
decltype(auto) atBoundary(const std::string& subject, Body&& body) {
    try {
        return body();
    } catch (...) {
        rethrowAsError(subject);
    }
}

/// A library's message made fit to show: its first line, control and other non-text bytes
/// replaced by '?', at most 300 characters.
std::string readableReason(const std::string& message);

}  // namespace convscope
