#pragma once

#include <string>

namespace convscope {

/// Records an exception that should never have reached the user (anything but
/// convscope::Error: a bug) in a new file under ${XDG_STATE_HOME:-~/.local/state}/convscope/,
/// with the version, the time and `context` (the command or action). Returns the file's
/// path, or "" when it cannot be written. Never throws; any thread.
std::string writeBugReport(const std::string& context, const std::string& what) noexcept;

/// The text to show for the exception being handled (call inside a catch block):
/// convscope::Error's own message; for anything else, "internal error (a bug): ..." with the
/// path of the report writeBugReport() wrote.
std::string describeCurrentException(const std::string& context) noexcept;

/// Makes std::terminate (an exception escaping a thread, say) write a bug report and say
/// where before the process aborts.
void installTerminateReporter(const std::string& context);

}  // namespace convscope
