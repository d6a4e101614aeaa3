// The .pth reader and its unpickler. The first byte picks how the rest is used:
//   bit 0 clear: the rest is the whole file (the zip archive as torch.save writes it);
//   bit 0 set:   the rest is [2-byte little-endian n][n bytes of data.pkl][storage bytes], put
//                into a well-formed archive here, so mutations reach the unpickler and the
//                tensor rebuilding instead of stopping at the zip's checksums. The storage bytes
//                are records data/0 and data/1 (its first half).
//   bit 1 set:   names, shapes and dtypes only (withValues false).
#include "io/torchpth.h"

#include "error.h"
#include "fuzzinput.h"

#include <caffe2/serialize/inline_container.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

std::string writeArchive(const std::uint8_t* data, std::size_t size) {
    const std::size_t declared = size >= 2 ? std::size_t(data[0] | data[1] << 8) : 0;
    const std::size_t headerBytes = std::min<std::size_t>(size, 2);
    const std::size_t pickleBytes = std::min(declared, size - headerBytes);
    const std::uint8_t* pickle = data + headerBytes;
    const std::uint8_t* storage = pickle + pickleBytes;
    const std::size_t storageBytes = size - headerBytes - pickleBytes;
    const std::string path = (convscope::fuzz::scratchFolder() / "archive.pth").string();
    caffe2::serialize::PyTorchStreamWriter writer(path);
    writer.writeRecord("data.pkl", pickle, pickleBytes);
    writer.writeRecord("byteorder", "little", 6);
    writer.writeRecord("data/0", storage, storageBytes);
    writer.writeRecord("data/1", storage, storageBytes / 2);
    writer.writeEndOfFile();
    return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace convscope;
    if (size == 0)
        return 0;
    const std::uint8_t mode = data[0];
    const std::string path = mode & 1 ? writeArchive(data + 1, size - 1)
                                      : fuzz::writeScratchFile("input.pth", data + 1, size - 1);
    const bool withValues = !(mode & 2);
    try {
        const TorchStateDict dict = readTorchStateDict(path, withValues);
        for (const TorchTensorEntry& t : dict.tensors) {
            std::int64_t count = 1;
            for (std::int64_t d : t.shape)
                count *= d;
            if (!withValues)
                continue;
            if (!t.value.defined() || t.value.numel() != count || !t.value.is_contiguous())
                std::abort();
            // Copied by instrumented code, so AddressSanitizer sees a read past the record.
            std::vector<char> copy(t.value.nbytes());
            if (!copy.empty())
                std::memcpy(copy.data(), t.value.data_ptr(), copy.size());
        }
    } catch (const Error& e) {
        if (e.subject() != path || e.reason().empty())
            std::abort();
    }
    return 0;
}
