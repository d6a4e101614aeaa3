#pragma once

// What the Keras HDF5 reader (kerasweights.cpp) and writer (kerasweightswriter.cpp) share: the
// limits of the layout, one lock for the HDF5 library and its error messages in words. Core
// only; ui/ never includes it.

#include <H5Cpp.h>

#include <cstdint>
#include <mutex>
#include <string>

namespace convscope::kerash5 {

// Past this many bytes Keras splits a name list over "name0", "name1", ...: data in an object
// header (where h5py's default file format keeps attributes) must stay under 64 KiB.
inline constexpr std::size_t kObjectHeaderLimit = 64512;
inline constexpr const char* kMetadataPrefix = "convscope_";
inline constexpr const char* kTopLevelGroup = "top_level_model_weights";
// A corrupt header can claim any shape; refuse before allocating rather than be killed.
inline constexpr std::uint64_t kMaxElements = std::uint64_t(1) << 31;
// Likewise for a text attribute; Keras splits name lists long before this.
inline constexpr std::uint64_t kMaxAttributeBytes = std::uint64_t(64) << 20;

// HDF5's C++ objects are not safe to share between threads, and the C library is built with
// its own lock on some systems only.
inline std::mutex& hdf5Mutex() {
    static std::mutex mutex;
    return mutex;
}

/// For the duration of one call: HDF5 prints nothing, and the innermost message of the last
/// failure is kept (the C++ API's exceptions only say "H5Fopen failed").
class Hdf5Diagnostics {
public:
    Hdf5Diagnostics() {
        H5Eget_auto2(H5E_DEFAULT, &m_oldHandler, &m_oldData);
        H5Eset_auto2(H5E_DEFAULT, &Hdf5Diagnostics::record, this);
    }
    ~Hdf5Diagnostics() { H5Eset_auto2(H5E_DEFAULT, m_oldHandler, m_oldData); }
    Hdf5Diagnostics(const Hdf5Diagnostics&) = delete;
    Hdf5Diagnostics& operator=(const Hdf5Diagnostics&) = delete;

    std::string lastOr(const H5::Exception& e) const {
        return m_message.empty() ? e.getDetailMsg() : m_message;
    }

private:
    static herr_t record(hid_t stack, void* self) {
        std::string message;
        H5Ewalk2(stack, H5E_WALK_UPWARD, &Hdf5Diagnostics::innermost, &message);
        static_cast<Hdf5Diagnostics*>(self)->m_message = message;
        return 0;
    }
    static herr_t innermost(unsigned n, const H5E_error2_t* error, void* message) {
        if (n == 0 && error->desc)
            *static_cast<std::string*>(message) = error->desc;
        return 0;
    }

    H5E_auto2_t m_oldHandler = nullptr;
    void* m_oldData = nullptr;
    std::string m_message;
};

inline H5::FileAccPropList fileAccess() {
    H5::FileAccPropList fapl;
    fapl.setFcloseDegree(H5F_CLOSE_STRONG);
#if H5_VERSION_GE(1, 10, 7)
    // Lock where the file system can (another program writing the file), carry on where it
    // cannot (some network drives) instead of failing.
    fapl.setFileLocking(true, true);
#endif
    return fapl;
}

inline std::string quoted(const std::string& text) {
    return "'" + text + "'";
}

inline bool isValidPath(const std::string& name) {
    if (name.empty())
        return false;
    std::size_t begin = 0;
    while (true) {
        const std::size_t end = std::min(name.find('/', begin), name.size());
        const std::string part = name.substr(begin, end - begin);
        if (part.empty() || part == "." || part == "..")
            return false;
        if (end == name.size())
            return true;
        begin = end + 1;
    }
}

}  // namespace convscope::kerash5
