#include "data/decoderdiagnostics.h"

#include "error.h"

#include <opencv2/core/utils/logger.hpp>

#include <iostream>
#include <mutex>
#include <streambuf>

namespace convscope {

namespace {

thread_local bool t_keeping = false;
thread_local std::string t_kept;

/// Unbuffered, so that threads share no put area: each character goes to the thread's kept
/// text while it decodes, else on to the original buffer.
class ForwardingBuffer : public std::streambuf {
public:
    explicit ForwardingBuffer(std::streambuf* original) : m_original(original) {}

protected:
    int_type overflow(int_type c) override {
        if (traits_type::eq_int_type(c, traits_type::eof()))
            return traits_type::not_eof(c);
        if (t_keeping) {
            t_kept.push_back(traits_type::to_char_type(c));
            return c;
        }
        return m_original->sputc(traits_type::to_char_type(c));
    }
    std::streamsize xsputn(const char* s, std::streamsize n) override {
        if (t_keeping) {
            t_kept.append(s, std::size_t(n));
            return n;
        }
        return m_original->sputn(s, n);
    }
    int sync() override { return t_keeping ? 0 : m_original->pubsync(); }

private:
    std::streambuf* m_original;
};

void installOnce() {
    static std::once_flag once;
    std::call_once(once, [] {
        static ForwardingBuffer buffer(std::cerr.rdbuf());
        std::cerr.rdbuf(&buffer);
        cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_ERROR);
    });
}

}  // namespace

DecoderDiagnostics::DecoderDiagnostics() {
    installOnce();
    t_kept.clear();
    t_keeping = true;
}

DecoderDiagnostics::~DecoderDiagnostics() {
    t_keeping = false;
}

std::string DecoderDiagnostics::message() const {
    return t_kept.empty() ? std::string() : readableReason(t_kept);
}

void keepDecoderMessage(const std::string& text) {
    if (t_keeping && t_kept.empty())
        t_kept = text;
}

}  // namespace convscope
