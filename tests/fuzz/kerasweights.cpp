// The Keras HDF5 weights reader on arbitrary bytes, written to a file of their own (HDF5 reads
// through its file driver, as it does for a user's file).
#include "io/kerasweights.h"

#include "error.h"
#include "fuzzinput.h"

#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace convscope;
    const std::string path = fuzz::writeScratchFile("weights.h5", data, size);
    try {
        const KerasWeightsFile file = readKerasWeights(path);
        fuzz::abortUnlessArraysFillTheirShapes(file.layers);
    } catch (const Error& e) {
        if (e.subject() != path || e.reason().empty())
            std::abort();
    }
    return 0;
}
