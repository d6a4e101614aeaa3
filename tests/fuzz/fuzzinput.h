// What the fuzz targets share: a private scratch folder for readers that take a path, and the
// check on the weight arrays a reader returns.
#pragma once

#include "io/kerasweights.h"

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace convscope::fuzz {

/// A folder of this process's own under /dev/shm (memory, so a million inputs wear no disk),
/// or under TMPDIR where there is no /dev/shm. Made on first use, removed at exit.
inline const std::filesystem::path& scratchFolder() {
    static const std::filesystem::path folder = [] {
        std::filesystem::path base = "/dev/shm";
        if (!std::filesystem::is_directory(base))
            base = std::filesystem::temp_directory_path();
        std::filesystem::path f = base / ("convscope-fuzz-" + std::to_string(::getpid()));
        std::filesystem::create_directories(f);
        return f;
    }();
    static const struct Remover {
        ~Remover() {
            std::error_code ec;
            std::filesystem::remove_all(folder, ec);
        }
    } remover;
    return folder;
}

/// Writes `size` bytes to `name` in the scratch folder and returns its path.
inline std::string writeScratchFile(const std::string& name, const std::uint8_t* data,
                                    std::size_t size) {
    const std::filesystem::path path = scratchFolder() / name;
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), std::streamsize(size));
    out.close();
    if (!out)
        std::abort();  // the harness itself failed, not the reader
    return path.string();
}

/// A reader's promise on what it returns: every array holds as many values as its shape says.
inline void abortUnlessArraysFillTheirShapes(const std::vector<LayerWeights>& layers) {
    for (const LayerWeights& layer : layers) {
        for (const WeightArray& w : layer.weights) {
            std::uint64_t count = 1;
            for (std::int64_t d : w.shape)
                count *= std::uint64_t(d);
            if (w.values.size() != count)
                std::abort();
        }
    }
}

}  // namespace convscope::fuzz
