#pragma once

#include <cstddef>
#include <cstdint>

namespace convscope {

/// The CRC-32 of `size` bytes (zlib's, as zip archives and the decoded-image cache store it),
/// for buffers of any size (zlib takes at most 4 GiB at a time).
std::uint32_t crc32Of(const void* data, std::size_t size);

}  // namespace convscope
