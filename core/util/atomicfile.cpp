#include "util/atomicfile.h"

#include "error.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace convscope {

namespace fs = std::filesystem;

namespace {

void syncPath(const std::string& path, bool directory) {
    const int fd = ::open(path.c_str(), (directory ? O_RDONLY | O_DIRECTORY : O_RDWR) | O_CLOEXEC);
    if (fd < 0)
        throw Error(path, std::string("cannot open to sync (") + std::strerror(errno) + ")");
    const int rc = ::fsync(fd);
    const int err = errno;
    ::close(fd);
    if (rc != 0 && !directory)
        throw Error(path, std::string("fsync failed (") + std::strerror(err) + ")");
}

}  // namespace

void replaceFileAtomically(const std::string& path,
                           const std::function<void(const std::string&)>& write,
                           Durability durability) {
    const bool synced = durability == Durability::Synced;
    const fs::path target(path);
    const fs::path folder = target.has_parent_path() ? target.parent_path() : fs::path(".");
    std::string tempName = ".";
    tempName += target.filename().string();
    tempName += ".tmp-";
    tempName += std::to_string(::getpid());
    const std::string temp = (folder / tempName).string();
    try {
        write(temp);
        if (synced)
            syncPath(temp, false);
        if (std::rename(temp.c_str(), path.c_str()) != 0)
            throw Error(path, std::string("cannot replace (") + std::strerror(errno) + ")");
    } catch (...) {
        std::error_code ec;
        fs::remove(temp, ec);
        throw;
    }
    if (synced)
        syncPath(folder.string(), true);
}

FileWriter::FileWriter(const std::string& path, std::string subject)
    : m_subject(std::move(subject)) {
    m_fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (m_fd < 0)
        throw Error(m_subject, std::string("cannot write (") + std::strerror(errno) + ")");
}

FileWriter::~FileWriter() {
    if (m_fd >= 0)
        ::close(m_fd);
}

void FileWriter::write(const void* data, std::size_t size) noexcept {
    const char* p = static_cast<const char*>(data);
    while (size > 0 && m_error == 0) {
        const ssize_t n = ::write(m_fd, p, size);
        if (n < 0) {
            if (errno != EINTR)
                m_error = errno;
            continue;
        }
        p += n;
        size -= std::size_t(n);
    }
}

void FileWriter::finish() {
    const int rc = ::close(m_fd);
    m_fd = -1;
    if (rc != 0 && m_error == 0)
        m_error = errno;
    if (m_error != 0)
        throw Error(m_subject, std::string("cannot write (") + std::strerror(m_error) + ")");
}

void writeTextFileAtomically(const std::string& path, const std::string& text) {
    replaceFileAtomically(path, [&](const std::string& temp) {
        FileWriter out(temp, path);
        out.write(text.data(), text.size());
        out.finish();
    });
}

int removeStaleTemporaryFiles(const std::string& folder) {
    int removed = 0;
    std::error_code ec;
    for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
        const std::string name = it->path().filename().string();
        const auto mark = name.rfind(".tmp-");
        if (name.empty() || name[0] != '.' || mark == std::string::npos)
            continue;
        const std::string digits = name.substr(mark + 5);
        if (digits.empty() || digits.size() > 9 ||
            digits.find_first_not_of("0123456789") != std::string::npos)
            continue;
        const pid_t pid = pid_t(std::stol(digits));
        const bool running = pid == ::getpid() || ::kill(pid, 0) == 0 || errno == EPERM;
        std::error_code removeError;
        if (!running && fs::remove(it->path(), removeError))
            ++removed;
    }
    return removed;
}

std::string readTextFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw Error(path, std::string("cannot open (") + std::strerror(errno) + ")");
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

}  // namespace convscope
