#pragma once

// Internal to core: what image libraries print while they decode, kept instead of flooding
// standard error.

#include <string>

namespace convscope {

/// While alive, what OpenCV writes to std::cerr and what the libjpeg error manager reports on
/// this thread is kept (decoderMessage) instead of printed; other threads print as before.
/// Installs a forwarding buffer on std::cerr once and turns OpenCV's own logging down to
/// errors (it otherwise prints "[ WARN:0@...]" lines for damaged files).
class DecoderDiagnostics {
public:
    DecoderDiagnostics();
    ~DecoderDiagnostics();
    DecoderDiagnostics(const DecoderDiagnostics&) = delete;
    DecoderDiagnostics& operator=(const DecoderDiagnostics&) = delete;

    /// The first line kept so far, made readable; empty when the libraries said nothing.
    std::string message() const;
};

/// Adds a line to the current thread's kept diagnostics (libjpeg's output_message).
void keepDecoderMessage(const std::string& text);

}  // namespace convscope
