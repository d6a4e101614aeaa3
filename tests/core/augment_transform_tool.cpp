// Test helper for tests/e2e/test_augment_keras_parity.py: applies one explicit AugmentDraw
// (no random draw) to a binary PPM (P6, 8-bit RGB) and writes the result as PPM, so that
// Python can compare it with Keras's ImageDataGenerator.apply_transform.
//
// usage: augment_transform_tool IN.ppm OUT.ppm [key=value ...]
// keys (ConvScope's AugmentDraw meanings, in pixels and degrees): theta shift_rows shift_cols
// shear zoom_rows zoom_cols flip_h flip_v channel_shift brightness fill cval

#include "augment/augmenter.h"

#include <opencv2/core.hpp>

#include <cstdlib>
#include <exception>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <string>

using namespace convscope;

namespace {

cv::Mat readPpm(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::string magic;
    int width = 0, height = 0, maxval = 0;
    in >> magic >> width >> height >> maxval;
    if (!in || magic != "P6" || width <= 0 || height <= 0 || maxval != 255)
        throw std::runtime_error("not an 8-bit P6 PPM: " + path);
    in.get();  // the single whitespace after maxval
    cv::Mat image(height, width, CV_8UC3);
    in.read(reinterpret_cast<char*>(image.data), std::streamsize(image.total() * 3));
    if (!in)
        throw std::runtime_error("truncated PPM: " + path);
    return image;
}

void writePpm(const std::string& path, const cv::Mat& image) {
    std::ofstream out(path, std::ios::binary);
    out << "P6\n" << image.cols << " " << image.rows << "\n255\n";
    const cv::Mat c = image.isContinuous() ? image : image.clone();
    out.write(reinterpret_cast<const char*>(c.data), std::streamsize(c.total() * 3));
    if (!out)
        throw std::runtime_error("cannot write " + path);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) {
        std::cerr << "usage: augment_transform_tool IN.ppm OUT.ppm [key=value ...]\n";
        return 2;
    }
    try {
        AugmentParams params;
        AugmentDraw d;
        for (int i = 3; i < argc; ++i) {
            const std::string arg = argv[i];
            const auto eq = arg.find('=');
            if (eq == std::string::npos)
                throw std::runtime_error("expected key=value: " + arg);
            const std::string key = arg.substr(0, eq);
            const std::string value = arg.substr(eq + 1);
            if (key == "fill") {
                params.fillMode = parseFillMode(value);
                continue;
            }
            const double v = std::stod(value);
            if (key == "theta") d.thetaDeg = v;
            else if (key == "shift_rows") d.shiftRows = v;
            else if (key == "shift_cols") d.shiftCols = v;
            else if (key == "shear") d.shearDeg = v;
            else if (key == "zoom_rows") d.zoomRows = v;
            else if (key == "zoom_cols") d.zoomCols = v;
            else if (key == "flip_h") d.flipHorizontal = v != 0;
            else if (key == "flip_v") d.flipVertical = v != 0;
            else if (key == "channel_shift") d.channelShift = v;
            else if (key == "brightness") d.brightness = v;
            else if (key == "cval") params.cval = v;
            else throw std::runtime_error("unknown key: " + key);
        }
        const cv::Mat src = readPpm(argv[1]);
        cv::Mat dst;
        Augmenter(params).apply(src, dst, d);
        writePpm(argv[2], dst);
    } catch (const std::exception& e) {
        std::cerr << "augment_transform_tool: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
