#include "data/opencvcodecs.h"

#include "error.h"

#include <opencv2/core.hpp>

#include <dlfcn.h>

#include <filesystem>
#include <fstream>

namespace convscope {

namespace {

using Decode = cv::Mat (*)(const cv::_InputArray&, int);
using Encode = bool (*)(const cv::String&, const cv::_InputArray&, std::vector<uchar>&,
                        const std::vector<int>&);

struct Codecs {
    Decode decode = nullptr;
    Encode encode = nullptr;
    std::string problem;  ///< why they could not be loaded
};

const Codecs& codecs() {
    static const Codecs loaded = [] {
        Codecs c;
        // Kept open for the life of the process.
        void* library = ::dlopen(CONVSCOPE_OPENCV_IMGCODECS, RTLD_NOW | RTLD_LOCAL);
        if (!library) {
            const char* why = ::dlerror();
            c.problem = why ? why : "dlopen failed";
            return c;
        }
        // cv::imdecode(InputArray, int) and cv::imencode(const String&, InputArray,
        // std::vector<uchar>&, const std::vector<int>&) by their Itanium C++ ABI names, which
        // the declarations in <opencv2/imgcodecs.hpp> give; core.test_opencvcodecs calls both.
        c.decode =
            reinterpret_cast<Decode>(::dlsym(library, "_ZN2cv8imdecodeERKNS_11_InputArrayEi"));
        c.encode = reinterpret_cast<Encode>(
            ::dlsym(library,
                    "_ZN2cv8imencodeERKNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEERKNS_"
                    "11_InputArrayERSt6vectorIhSaIhEERKSB_IiSaIiEE"));
        if (!c.decode || !c.encode) {
            c.problem =
                std::string(CONVSCOPE_OPENCV_IMGCODECS) +
                " has no cv::imdecode or cv::imencode of the OpenCV ConvScope was built with";
            c.decode = nullptr;
            c.encode = nullptr;
        }
        return c;
    }();
    if (!loaded.problem.empty())
        throw Error(CONVSCOPE_OPENCV_IMGCODECS,
                    "OpenCV's image codecs, which decode the formats other than JPEG and PNG and "
                    "write images, cannot be loaded (" +
                        loaded.problem + ")");
    return loaded;
}

}  // namespace

cv::Mat opencvDecode(const cv::Mat& bytes, int flags) {
    return codecs().decode(bytes, flags);
}

bool opencvEncode(const std::string& extension, const cv::Mat& image,
                  std::vector<unsigned char>& bytes, const std::vector<int>& parameters) {
    return codecs().encode(extension, image, bytes, parameters);
}

bool opencvWrite(const std::string& path, const cv::Mat& image,
                 const std::vector<int>& parameters) {
    std::vector<unsigned char> bytes;
    const std::string extension = std::filesystem::path(path).extension().string();
    if (extension.empty() || !opencvEncode(extension, image, bytes, parameters))
        return false;
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
    return bool(out.flush());
}

}  // namespace convscope
