#pragma once

#include <functional>
#include <string>

namespace convscope {

/// Replaces `path` so that a crash at any moment leaves either the old file or the new one,
/// never a half-written file: `write` fills a temporary file in the same folder, which is
/// then fsync'd and renamed over `path` (and the folder fsync'd). On failure the temporary
/// file is removed and convscope::Error (or what `write` threw) propagates.
void replaceFileAtomically(const std::string& path,
                           const std::function<void(const std::string& tempPath)>& write);

void writeTextFileAtomically(const std::string& path, const std::string& text);

/// Removes the temporary files that replaceFileAtomically() left in `folder` when its process
/// was killed mid-write (".NAME.tmp-PID" whose PID no longer runs), so that they do not keep a
/// disk full. Files of running processes are kept. Returns how many were removed; never throws.
int removeStaleTemporaryFiles(const std::string& folder);

/// The whole file as text; throws convscope::Error naming the file.
std::string readTextFile(const std::string& path);

}  // namespace convscope
