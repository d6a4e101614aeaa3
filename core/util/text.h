#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace convscope {

/// The length of the valid UTF-8 sequence that starts at `text[i]`, 0 when none does
/// (a stray continuation byte, an overlong or truncated sequence).
std::size_t utf8SequenceLength(const std::string& text, std::size_t i);

bool isValidUtf8(const std::string& text);

/// `text` as valid UTF-8 for JSON, CSV and the screen: each byte that is not part of a valid
/// sequence becomes "\xNN" (a file name in Latin-1, say). Valid text is returned unchanged.
std::string escapeInvalidUtf8(const std::string& text);

/// An array shape as Python prints a tuple, which is how NumPy, h5py and PyTorch users read
/// shapes: "(3, 3, 3, 32)", "(5,)", "()".
std::string shapeText(std::span<const std::int64_t> shape);
/// Standard base64 (RFC 4648, with '=' padding) of the bytes, as data: URLs carry them.
std::string base64(std::span<const std::uint8_t> bytes);

/// `text` safe inside HTML text and attribute values: & < > " ' escaped. Invalid UTF-8 is
/// escaped as escapeInvalidUtf8 does first.
std::string htmlEscaped(const std::string& text);

/// A shape for people, dimensions joined by " × " ("32 × 74 × 74"), for tables.
std::string dimensionsText(std::span<const std::int64_t> shape);

/// "512 B", "190 MiB", "2.0 GiB": a size for people, in binary units.
std::string readableBytes(std::uint64_t bytes);
/// Parses "2G", "500M", "1.5GiB", "64k", "1048576" (binary units) into bytes; throws
/// convscope::Error for anything else.
std::uint64_t parseByteSize(const std::string& text);

}  // namespace convscope
