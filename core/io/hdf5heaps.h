#pragma once

// Internal to core: HDF5 1.10.8 trusts a file's global heaps (where variable-length strings
// live) and crashes or loops on damaged ones, so the weights reader checks them first.

#include <H5Cpp.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

namespace convscope {

/// Where a file's variable-length strings live: each global heap collection's address (as
/// HDF5 addresses it) and, in it, each object's index and size. See readGlobalHeaps().
struct GlobalHeaps {
    std::map<std::uint64_t, std::map<std::uint64_t, std::uint64_t>> objects;
    std::size_t offsetBytes = 8;
};

/// Walks every global heap collection of the file at `path` as HDF5 would; throws
/// convscope::Error for one that would not reach its end. Collections larger than
/// `maxHeapBytes` are left to HDF5, which refuses them.
GlobalHeaps readGlobalHeaps(const std::string& path, std::uint64_t maxHeapBytes,
                            std::size_t offsetBytes, std::size_t lengthBytes, std::uint64_t base);

/// Throws convscope::Error(path, what + reason) when one of the `count` variable-length strings
/// of attribute `a` names a heap object that `heaps` lacks or that is longer than the string.
void checkHeapReferences(const H5::Attribute& a, const GlobalHeaps& heaps, std::uint64_t count,
                         const std::string& path, const std::string& what);

}  // namespace convscope
