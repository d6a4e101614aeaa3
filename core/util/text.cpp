#include "util/text.h"

#include "error.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace convscope {

std::size_t utf8SequenceLength(const std::string& text, std::size_t i) {
    const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
    const unsigned char c = byte(i);
    std::size_t n = 0;
    unsigned minimum = 0;
    if (c < 0x80)
        return 1;
    if ((c >> 5) == 0x6) {
        n = 2;
        minimum = 0x80;
    } else if ((c >> 4) == 0xE) {
        n = 3;
        minimum = 0x800;
    } else if ((c >> 3) == 0x1E) {
        n = 4;
        minimum = 0x10000;
    } else {
        return 0;
    }
    if (i + n > text.size())
        return 0;
    unsigned code = c & (0x7F >> n);
    for (std::size_t k = 1; k < n; ++k) {
        if ((byte(i + k) & 0xC0) != 0x80)
            return 0;
        code = (code << 6) | (byte(i + k) & 0x3F);
    }
    const bool surrogate = code >= 0xD800 && code <= 0xDFFF;
    return code < minimum || code > 0x10FFFF || surrogate ? 0 : n;
}

bool isValidUtf8(const std::string& text) {
    for (std::size_t i = 0; i < text.size();) {
        const std::size_t n = utf8SequenceLength(text, i);
        if (n == 0)
            return false;
        i += n;
    }
    return true;
}

std::string escapeInvalidUtf8(const std::string& text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size();) {
        const std::size_t n = utf8SequenceLength(text, i);
        if (n == 0) {
            char hex[5];
            std::snprintf(hex, sizeof hex, "\\x%02X", static_cast<unsigned char>(text[i]));
            out += hex;
            ++i;
        } else {
            out.append(text, i, n);
            i += n;
        }
    }
    return out;
}

std::string shapeText(std::span<const std::int64_t> shape) {
    std::string out = "(";
    for (std::size_t i = 0; i < shape.size(); ++i)
        out += (i ? ", " : "") + std::to_string(shape[i]);
    return out + (shape.size() == 1 ? ",)" : ")");
}

std::string dimensionsText(std::span<const std::int64_t> shape) {
    std::string out;
    for (std::size_t i = 0; i < shape.size(); ++i)
        out += (i ? " × " : "") + std::to_string(shape[i]);
    return out;
}

std::string base64(std::span<const std::uint8_t> bytes) {
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 3 <= bytes.size(); i += 3) {
        const std::uint32_t v = std::uint32_t(bytes[i]) << 16 | std::uint32_t(bytes[i + 1]) << 8 |
                                std::uint32_t(bytes[i + 2]);
        for (int shift : {18, 12, 6, 0})
            out += alphabet[(v >> shift) & 63];
    }
    const std::size_t left = bytes.size() - i;
    if (left > 0) {
        std::uint32_t v = std::uint32_t(bytes[i]) << 16;
        if (left == 2)
            v |= std::uint32_t(bytes[i + 1]) << 8;
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
        out += left == 2 ? alphabet[(v >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

std::string htmlEscaped(const std::string& text) {
    std::string out;
    for (char c : escapeInvalidUtf8(text)) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&quot;";
                break;
            case '\'':
                out += "&#39;";
                break;
            default:
                out += c;
        }
    }
    return out;
}

std::string readableBytes(std::uint64_t bytes) {
    const double b = double(bytes);
    char text[32];
    if (b >= double(1ull << 30))
        std::snprintf(text, sizeof text, "%.1f GiB", b / double(1ull << 30));
    else if (b >= double(1ull << 20))
        std::snprintf(text, sizeof text, "%.0f MiB", b / double(1ull << 20));
    else if (b >= 1024)
        std::snprintf(text, sizeof text, "%.0f KiB", b / 1024);
    else
        std::snprintf(text, sizeof text, "%llu B", static_cast<unsigned long long>(bytes));
    return text;
}

std::uint64_t parseByteSize(const std::string& text) {
    std::string t;
    for (char c : text)
        if (!std::isspace(static_cast<unsigned char>(c)))
            t += char(std::toupper(static_cast<unsigned char>(c)));
    char* end = nullptr;
    const double value = std::strtod(t.c_str(), &end);
    std::string unit(end ? end : "");
    if (unit.size() > 1 && unit.back() == 'B')
        unit.pop_back();
    if (unit.size() > 1 && unit.back() == 'I')  // GiB, MiB
        unit.pop_back();
    double scale = 1;
    if (unit == "K")
        scale = 1024.0;
    else if (unit == "M")
        scale = 1024.0 * 1024;
    else if (unit == "G")
        scale = 1024.0 * 1024 * 1024;
    else if (unit == "T")
        scale = 1024.0 * 1024 * 1024 * 1024;
    else if (!unit.empty() && unit != "B")
        throw Error(text, "not a size (write e.g. 2G, 500M or a number of bytes)");
    if (end == t.c_str() || !std::isfinite(value) || value < 0)
        throw Error(text, "not a size (write e.g. 2G, 500M or a number of bytes)");
    return std::uint64_t(std::llround(value * scale));
}

}  // namespace convscope
