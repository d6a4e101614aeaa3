#pragma once

#include <cstddef>
#include <functional>
#include <string>

namespace convscope {

/// Whether replaceFileAtomically waits for the new file to reach the disk.
enum class Durability {
    Synced,   ///< fsync the file before the rename and the folder after it
    Unsynced  ///< for files that check themselves (a cut file fails its checksums): no fsync
};

/// Replaces `path` so that a reader sees either the old file or the whole new one, never a
/// half-written file: `write` fills a temporary file in the same folder (".NAME.tmp-PID",
/// what removeStaleTemporaryFiles clears), which is then renamed over `path`. Synced (the
/// default), a crash at any moment also leaves one of the two. On failure the temporary file
/// is removed and convscope::Error (or what `write` threw) propagates.
void replaceFileAtomically(const std::string& path,
                           const std::function<void(const std::string& tempPath)>& write,
                           Durability durability = Durability::Synced);

/// Writes a new file through a writer that must not fail part way (LibTorch's zip writer
/// throws from its destructor, which aborts the process): write() never fails, it keeps the
/// first error and drops what follows; finish() closes the file and throws convscope::Error
/// naming `subject` with that error ("No space left on device"). Not thread-safe.
class FileWriter {
public:
    FileWriter(const std::string& path, std::string subject);
    ~FileWriter();
    FileWriter(const FileWriter&) = delete;
    FileWriter& operator=(const FileWriter&) = delete;

    void write(const void* data, std::size_t size) noexcept;
    void finish();

private:
    int m_fd = -1;
    int m_error = 0;
    std::string m_subject;
};

void writeTextFileAtomically(const std::string& path, const std::string& text);

/// Removes the temporary files that replaceFileAtomically() left in `folder` when its process
/// was killed mid-write (".NAME.tmp-PID" whose PID no longer runs), so that they do not keep a
/// disk full. Files of running processes are kept. Returns how many were removed; never throws.
int removeStaleTemporaryFiles(const std::string& folder);

/// The whole file as text; throws convscope::Error naming the file.
std::string readTextFile(const std::string& path);

}  // namespace convscope
