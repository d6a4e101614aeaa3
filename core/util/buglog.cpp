#include "util/buglog.h"

#include "error.h"
#include "runtime.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <exception>
#include <filesystem>
#include <fstream>

namespace convscope {

namespace fs = std::filesystem;

namespace {

fs::path bugFolder() {
    if (const char* state = std::getenv("XDG_STATE_HOME"); state && *state)
        return fs::path(state) / "convscope";
    const char* home = std::getenv("HOME");
    return fs::path(home && *home ? home : "/tmp") / ".local" / "state" / "convscope";
}

std::string g_terminateContext;  // set once, before any thread could terminate

void reportAndAbort() {
    std::string what = "std::terminate without an exception";
    if (const std::exception_ptr current = std::current_exception()) {
        try {
            std::rethrow_exception(current);
        } catch (const std::exception& e) {
            what = e.what();
        } catch (...) {
            what = "an exception of unknown type";
        }
    }
    const std::string log = writeBugReport(g_terminateContext, what);
    std::fprintf(stderr, "convscope: internal error (a bug): %s\n", readableReason(what).c_str());
    if (!log.empty())
        std::fprintf(stderr, "convscope: details in %s; please report it\n", log.c_str());
    std::abort();
}

}  // namespace

std::string writeBugReport(const std::string& context, const std::string& what) noexcept {
    try {
        const fs::path folder = bugFolder();
        std::error_code ec;
        fs::create_directories(folder, ec);
        const std::time_t now = std::time(nullptr);
        std::tm local{};
        localtime_r(&now, &local);
        char stamp[32];
        std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &local);
        const fs::path file =
            folder / ("bug-" + std::string(stamp) + "-" + std::to_string(::getpid()) + ".log");
        std::ofstream out(file, std::ios::app);
        out << "ConvScope " << convscopeVersion() << "\n"
            << "when: " << stamp << "\n"
            << "while: " << context << "\n"
            << "what: " << what << "\n";
        out.flush();
        return out ? file.string() : std::string();
    } catch (...) {
        return {};
    }
}

std::string describeCurrentException(const std::string& context) noexcept {
    try {
        try {
            throw;
        } catch (const Error& e) {
            return e.what();
        } catch (const std::exception& e) {
            const std::string log = writeBugReport(context, e.what());
            return "internal error (a bug): " + readableReason(e.what()) +
                   (log.empty() ? "" : "; details in " + log + ", please report it");
        } catch (...) {
            const std::string log = writeBugReport(context, "an exception of unknown type");
            return "internal error (a bug)" +
                   (log.empty() ? "" : "; details in " + log + ", please report it");
        }
    } catch (...) {
        return "internal error (a bug)";
    }
}

void installTerminateReporter(const std::string& context) {
    g_terminateContext = context;
    std::set_terminate(reportAndAbort);
}

}  // namespace convscope
