#pragma once

#include <string>
#include <vector>

namespace cv {
class Mat;
}

namespace convscope {

/// OpenCV's image codecs (libopencv_imgcodecs), loaded the first time one is needed instead of
/// when the program starts. Debian's build of it pulls in GDAL and about 75 more libraries,
/// which made every start of `convscope` 75 ms slower (0.41 s against 0.34 s for --version),
/// while training on JPEGs and PNGs never needs them: ConvScope decodes those itself. They
/// decode the other formats (WebP, BMP, TIFF, CMYK JPEGs...) and encode what ConvScope writes.
/// Thread-safe. When the library cannot be loaded these throw convscope::Error saying why, in
/// a reason that reads on its own after an image's name.

/// cv::imdecode: an empty matrix when OpenCV cannot decode the bytes; throws cv::Exception
/// as it does.
cv::Mat opencvDecode(const cv::Mat& bytes, int flags);

/// cv::imencode for a file extension (".png", ".jpg"): false when OpenCV cannot.
bool opencvEncode(const std::string& extension, const cv::Mat& image,
                  std::vector<unsigned char>& bytes, const std::vector<int>& parameters = {});

/// cv::imwrite: encodes for the path's extension and writes the file; false when it cannot.
bool opencvWrite(const std::string& path, const cv::Mat& image,
                 const std::vector<int>& parameters = {});

}  // namespace convscope
