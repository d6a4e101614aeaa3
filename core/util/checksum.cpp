#include "util/checksum.h"

#include <zlib.h>

#include <algorithm>

namespace convscope {

std::uint32_t crc32Of(const void* data, std::size_t size) {
    uLong crc = crc32(0, nullptr, 0);
    const auto* bytes = static_cast<const Bytef*>(data);
    while (size > 0) {
        const std::size_t part = std::min<std::size_t>(size, std::size_t(1) << 30);
        crc = crc32(crc, bytes, uInt(part));
        bytes += part;
        size -= part;
    }
    return std::uint32_t(crc);
}

}  // namespace convscope
