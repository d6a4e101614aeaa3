#include "data/pngdecoder.h"

#include "data/decoderdiagnostics.h"

#include <png.h>

#include <cstring>
#include <vector>

namespace convscope {

namespace {

struct PngSource {
    const unsigned char* data;
    std::size_t size;
    std::size_t offset;
    char error[256];
};

void readFromMemory(png_structp png, png_bytep out, png_size_t length) {
    auto* source = static_cast<PngSource*>(png_get_io_ptr(png));
    if (length > source->size - source->offset)
        png_error(png, "the file ends early");
    std::memcpy(out, source->data + source->offset, length);
    source->offset += length;
}

void onPngError(png_structp png, png_const_charp message) {
    auto* source = static_cast<PngSource*>(png_get_error_ptr(png));
    std::strncpy(source->error, message ? message : "unknown error", sizeof source->error - 1);
    source->error[sizeof source->error - 1] = '\0';
    png_longjmp(png, 1);
}

void onPngWarning(png_structp, png_const_charp message) {
    keepDecoderMessage(message ? message : "a libpng warning");
}

/// Reads the header and sets the transformations OpenCV 4.6's PngDecoder sets, so that both
/// decode paths agree pixel for pixel. May longjmp: plain C objects only.
void readHeader(png_structp png, png_infop info, png_uint_32& width, png_uint_32& height,
                int& type) {
    int bitDepth = 0, colourType = 0;
    png_read_info(png, info);
    png_get_IHDR(png, info, &width, &height, &bitDepth, &colourType, nullptr, nullptr, nullptr);
    int channels = 1;
    if (colourType == PNG_COLOR_TYPE_RGB || colourType == PNG_COLOR_TYPE_PALETTE) {
        png_bytep alpha = nullptr;
        int transparent = 0;
        png_color_16p values = nullptr;
        png_get_tRNS(png, info, &alpha, &transparent, &values);
        channels = transparent > 0 ? 4 : 3;
    } else if (colourType == PNG_COLOR_TYPE_GRAY_ALPHA || colourType == PNG_COLOR_TYPE_RGB_ALPHA) {
        channels = 4;
    }
    const bool sixteen = bitDepth == 16;
    if (sixteen)
        png_set_swap(png);
    if (channels < 4)
        png_set_strip_alpha(png);
    else
        png_set_tRNS_to_alpha(png);
    if (colourType == PNG_COLOR_TYPE_PALETTE)
        png_set_palette_to_rgb(png);
    if ((colourType & PNG_COLOR_MASK_COLOR) == 0 && bitDepth < 8)
        png_set_expand_gray_1_2_4_to_8(png);
    if ((colourType & PNG_COLOR_MASK_COLOR) && channels > 1)
        png_set_bgr(png);
    else if (channels > 1)
        png_set_gray_to_rgb(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    type = CV_MAKETYPE(sixteen ? CV_16U : CV_8U, channels);
}

}  // namespace

bool decodePng(const unsigned char* data, std::size_t size, cv::Mat& out, std::string& error) {
    PngSource source{data, size, 0, {}};
    png_structp png =
        png_create_read_struct(PNG_LIBPNG_VER_STRING, &source, onPngError, onPngWarning);
    png_infop info = png ? png_create_info_struct(png) : nullptr;
    if (!png || !info) {
        png_destroy_read_struct(&png, nullptr, nullptr);
        error = "libpng could not start";
        return false;
    }
    png_set_read_fn(png, &source, readFromMemory);
    // libpng reports errors by longjmp: the objects with destructors (out, rows) live in this
    // frame, which each jump returns to, and are made between the two reads.
    png_uint_32 width = 0, height = 0;
    int type = 0;
    std::vector<png_bytep> rows;
    bool ok = false;
    if (setjmp(png_jmpbuf(png)) == 0) {
        readHeader(png, info, width, height, type);
        out.create(int(height), int(width), type);
        rows.resize(height);
        for (png_uint_32 y = 0; y < height; ++y)
            rows[y] = out.ptr(int(y));
        if (setjmp(png_jmpbuf(png)) == 0) {
            png_read_image(png, rows.data());
            png_read_end(png, nullptr);
            ok = true;
        }
    }
    png_destroy_read_struct(&png, &info, nullptr);
    if (!ok)
        error = source.error[0] ? source.error : "unknown libpng error";
    return ok;
}

}  // namespace convscope
