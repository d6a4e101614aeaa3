#pragma once

// Internal to core: PNG through libpng with ConvScope's own error and warning handlers
// (OpenCV's PNG reader lets libpng print "libpng error: ..." to stderr).

#include <opencv2/core/mat.hpp>

#include <cstddef>
#include <string>

namespace convscope {

/// Decodes a PNG to what OpenCV's imdecode(IMREAD_UNCHANGED) gives: 8- or 16-bit, grey (1
/// channel), BGR, or BGRA when the file has alpha or transparency; palettes expanded.
/// Returns false with `error` set for a damaged file. libpng's warnings are kept
/// (data/decoderdiagnostics.h), never printed. The pixel limit must be checked before.
bool decodePng(const unsigned char* data, std::size_t size, cv::Mat& out, std::string& error);

}  // namespace convscope
