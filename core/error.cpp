#include "error.h"

#include "util/text.h"

#include <H5Cpp.h>
#include <c10/util/Exception.h>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include <filesystem>
#include <new>

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

std::string readableReason(const std::string& message) {
    constexpr std::size_t kMaxLength = 300;
    std::string out;
    std::size_t i = 0;
    while (i < message.size() && message[i] == '\n')
        ++i;
    while (i < message.size() && message[i] != '\n' && out.size() < kMaxLength) {
        const std::size_t n = utf8SequenceLength(message, i);
        const unsigned char c = static_cast<unsigned char>(message[i]);
        if (n == 0 || (n == 1 && (c < 0x20 || c == 0x7F))) {
            out += c == '\t' ? ' ' : '?';
            ++i;
        } else {
            out.append(message, i, n);
            i += n;
        }
    }
    while (!out.empty() && out.back() == ' ')
        out.pop_back();
    if (i < message.size() && message[i] != '\n')
        out += "...";
    return out.empty() ? "an error without a message" : out;
}

void rethrowAsError(const std::string& subject) {
    try {
        throw;
    } catch (const Error&) {
        throw;
    } catch (const c10::OutOfMemoryError& e) {
        throw Error(subject, "out of memory on the device (" +
                                 readableReason(e.what_without_backtrace()) + ")");
    } catch (const c10::Error& e) {
        throw Error(subject, readableReason(e.what_without_backtrace()));
    } catch (const cv::Exception& e) {
        throw Error(subject, readableReason(e.err.empty() ? e.what() : e.err));
    } catch (const H5::Exception& e) {
        throw Error(subject, "HDF5: " + readableReason(e.getDetailMsg()));
    } catch (const nlohmann::json::exception& e) {
        throw Error(subject, "damaged JSON (" + readableReason(e.what()) + ")");
    } catch (const std::filesystem::filesystem_error& e) {
        const std::string where = e.path1().empty() ? "" : " (" + e.path1().string() + ")";
        throw Error(subject, readableReason(e.code().message() + where));
    } catch (const std::bad_alloc&) {
        throw Error(subject, "not enough memory");
    } catch (const std::length_error&) {
        throw Error(subject, "a size too large for memory (damaged or hostile input)");
    } catch (const std::exception& e) {
        throw Error(subject, readableReason(e.what()));
    } catch (...) {
        throw Error(subject, "an unknown error (a bug in ConvScope: please report it)");
    }
}

}  // namespace convscope
