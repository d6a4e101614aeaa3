// The decoded-image cache's pack reader (data/decodedstore.h) on arbitrary files. The promise:
// opening never throws and returns a pack or a reason; every entry of a pack that opens points
// inside the file, and reading it returns its pixels or false (checksum), nothing else.
#include "data/decodedstore.h"

#include "fuzzinput.h"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace convscope;
    const std::string path = fuzz::writeScratchFile("input.pack", data, size);
    const std::unique_ptr<DecodedPack> described = DecodedPack::describe(path);
    if (!described)
        return 0;
    std::string problem;
    const std::unique_ptr<DecodedPack> pack =
        DecodedPack::open(path, described->settings(), &problem);
    if (!pack || !problem.empty())
        std::abort();  // describe() and open() with the pack's own settings must agree
    const DecodeSettings& s = pack->settings();
    const std::size_t bytes = std::size_t(s.width) * std::size_t(s.height) * 3;
    if (pack->imageCount() > 0 && bytes > size)
        std::abort();  // an image larger than the file cannot be inside it
    std::vector<std::uint8_t> pixels(bytes);
    for (std::size_t i = 0; i < pack->imageCount(); ++i) {
        const PackEntry* e = pack->entry(i);
        if (e->offset + bytes > size)
            std::abort();
        if (pack->find(e->path, e->stamp) == nullptr)
            std::abort();
        pack->read(*e, pixels.data());
    }
    return 0;
}
