// The TF.js model.json and shard reader. The input is model.json, a NUL byte, then the shard:
// written as model.json and group1-shard1of1.bin in a folder of their own (the name the seeds'
// manifests give; a mutated manifest may name any other).
#include "io/tfjsmodel.h"

#include "error.h"
#include "fuzzinput.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace convscope;
    const std::uint8_t* end = data + size;
    const std::uint8_t* nul = std::find(data, end, std::uint8_t(0));
    const std::size_t jsonBytes = std::size_t(nul - data);
    const std::uint8_t* shard = nul == end ? end : nul + 1;
    fuzz::writeScratchFile("group1-shard1of1.bin", shard, std::size_t(end - shard));
    const std::string path = fuzz::writeScratchFile("model.json", data, jsonBytes);
    try {
        const TfjsModel model = readTfjsModel(path);
        fuzz::abortUnlessArraysFillTheirShapes(model.weights.layers);
    } catch (const Error& e) {
        if (e.subject() != path || e.reason().empty())
            std::abort();
    }
    return 0;
}
