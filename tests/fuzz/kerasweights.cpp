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
        for (const LayerWeights& layer : file.layers) {
            for (const WeightArray& w : layer.weights) {
                std::uint64_t count = 1;
                for (std::int64_t d : w.shape)
                    count *= std::uint64_t(d);
                if (w.values.size() != count)
                    std::abort();
            }
        }
    } catch (const Error& e) {
        if (e.subject() != path || e.reason().empty())
            std::abort();
    }
    return 0;
}
