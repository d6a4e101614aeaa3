#include "testimages.h"

#include <opencv2/imgcodecs.hpp>

#include <zlib.h>

#include <sys/resource.h>

#include <csignal>
#include <cstdio>
#include <jpeglib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace convscope::test {

namespace fs = std::filesystem;

FileSizeLimit::FileSizeLimit(std::uint64_t bytes) {
    rlimit limit{};
    getrlimit(RLIMIT_FSIZE, &limit);
    m_oldSoft = limit.rlim_cur;
    limit.rlim_cur = rlim_t(bytes);
    m_oldHandler = std::signal(SIGXFSZ, SIG_IGN);
    if (setrlimit(RLIMIT_FSIZE, &limit) != 0)
        throw std::runtime_error("setrlimit(RLIMIT_FSIZE) failed");
}

FileSizeLimit::~FileSizeLimit() {
    rlimit limit{};
    getrlimit(RLIMIT_FSIZE, &limit);
    limit.rlim_cur = rlim_t(m_oldSoft);
    setrlimit(RLIMIT_FSIZE, &limit);
    std::signal(SIGXFSZ, m_oldHandler);
}

std::vector<std::string> listFolder(const std::string& folder) {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(folder))
        names.push_back(entry.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
}

TempDir::TempDir() {
    std::string templ = (fs::temp_directory_path() / "convscope-test-XXXXXX").string();
    if (!mkdtemp(templ.data()))
        throw std::runtime_error("mkdtemp failed");
    m_path = templ;
}

TempDir::~TempDir() {
    std::error_code ec;
    // Undo permission changes a test made, so that removal cannot fail half-way.
    for (auto it = fs::recursive_directory_iterator(
             m_path, fs::directory_options::skip_permission_denied, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (!it->is_symlink())
            fs::permissions(it->path(), fs::perms::owner_all, fs::perm_options::add, ec);
    }
    fs::remove_all(m_path, ec);
}

std::string TempDir::file(const std::string& relative) const {
    const fs::path p = fs::path(m_path) / fs::u8path(relative);
    fs::create_directories(p.parent_path());
    return p.string();
}

cv::Mat solidBgr(int w, int h, cv::Scalar rgb) {
    return cv::Mat(h, w, CV_8UC3, cv::Scalar(rgb[2], rgb[1], rgb[0]));
}

cv::Mat patternBgr(int w, int h) {
    cv::Mat m(h, w, CV_8UC3);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
            m.at<cv::Vec3b>(y, x) = cv::Vec3b(std::uint8_t(x * 7 + y), std::uint8_t(y * 5 + 3 * x),
                                              std::uint8_t((x * y) & 0xFF));
    return m;
}

cv::Mat noiseImage(int w, int h, int seed) {
    cv::Mat m(h, w, CV_8UC3);
    cv::theRNG().state = std::uint64_t(seed);
    cv::randu(m, 0, 256);
    return m;
}

cv::Mat rampsImage(int w, int h) {
    cv::Mat m(h, w, CV_8UC3);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
            m.at<cv::Vec3b>(y, x) = cv::Vec3b(std::uint8_t(x * 255 / std::max(1, w - 1)),
                                              std::uint8_t(y * 255 / std::max(1, h - 1)),
                                              std::uint8_t((x + y) * 255 / std::max(1, w + h - 2)));
    return m;
}

void writeImage(const std::string& path, const cv::Mat& img) {
    fs::create_directories(fs::path(path).parent_path());
    if (!cv::imwrite(path, img))
        throw std::runtime_error("cannot write " + path);
}

void writeBytes(const std::string& path, const std::vector<std::uint8_t>& bytes) {
    fs::create_directories(fs::path(path).parent_path());
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

std::vector<std::uint8_t> readBytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

namespace {

void putBe32(std::vector<std::uint8_t>& out, std::uint32_t v) {
    for (int s = 24; s >= 0; s -= 8)
        out.push_back(std::uint8_t(v >> s));
}

void putChunk(std::vector<std::uint8_t>& out, const char* type,
              const std::vector<std::uint8_t>& data) {
    putBe32(out, std::uint32_t(data.size()));
    std::vector<std::uint8_t> typed(type, type + 4);
    typed.insert(typed.end(), data.begin(), data.end());
    out.insert(out.end(), typed.begin(), typed.end());
    putBe32(out, std::uint32_t(crc32(0, typed.data(), uInt(typed.size()))));
}

std::vector<std::uint8_t> ihdr(std::uint32_t w, std::uint32_t h, std::uint8_t colourType) {
    std::vector<std::uint8_t> d;
    putBe32(d, w);
    putBe32(d, h);
    d.insert(d.end(), {8, colourType, 0, 0, 0});
    return d;
}

/// Appends the zlib-compressed scanlines as IDAT, then IEND.
void finishPng(std::vector<std::uint8_t>& png, const std::vector<std::uint8_t>& raw) {
    uLongf size = compressBound(uLong(raw.size()));
    std::vector<std::uint8_t> z(size);
    compress(z.data(), &size, raw.data(), uLong(raw.size()));
    z.resize(size);
    putChunk(png, "IDAT", z);
    putChunk(png, "IEND", {});
}

const std::uint8_t kPngSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};

}  // namespace

void writePalettePng(const std::string& path, int w, int h, const std::vector<cv::Vec3b>& palette,
                     const std::vector<std::uint8_t>& indices) {
    std::vector<std::uint8_t> png(kPngSignature, kPngSignature + 8);
    putChunk(png, "IHDR", ihdr(std::uint32_t(w), std::uint32_t(h), 3));
    std::vector<std::uint8_t> plte;
    for (const auto& c : palette)
        plte.insert(plte.end(), {c[0], c[1], c[2]});
    putChunk(png, "PLTE", plte);
    std::vector<std::uint8_t> raw;
    for (int y = 0; y < h; ++y) {
        raw.push_back(0);  // filter: none
        raw.insert(raw.end(), indices.begin() + y * w, indices.begin() + (y + 1) * w);
    }
    finishPng(png, raw);
    writeBytes(path, png);
}

void writePngHeaderOnly(const std::string& path, std::uint32_t width, std::uint32_t height) {
    std::vector<std::uint8_t> png(kPngSignature, kPngSignature + 8);
    putChunk(png, "IHDR", ihdr(width, height, 2));
    std::vector<std::uint8_t> raw(64, 0);
    finishPng(png, raw);
    writeBytes(path, png);
}

void writeCmykJpeg(const std::string& path, int w, int h, const std::uint8_t ink[4]) {
    fs::create_directories(fs::path(path).parent_path());
    FILE* f = std::fopen(path.c_str(), "wb");
    if (!f)
        throw std::runtime_error("cannot write " + path);
    jpeg_compress_struct c{};
    jpeg_error_mgr err{};
    c.err = jpeg_std_error(&err);
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, f);
    c.image_width = JDIMENSION(w);
    c.image_height = JDIMENSION(h);
    c.input_components = 4;
    c.in_color_space = JCS_CMYK;
    jpeg_set_defaults(&c);
    jpeg_set_colorspace(&c, JCS_CMYK);
    c.write_Adobe_marker = TRUE;
    jpeg_start_compress(&c, TRUE);
    // Adobe stores CMYK inverted: 255 means no ink.
    std::vector<JSAMPLE> row(std::size_t(w) * 4);
    for (int x = 0; x < w; ++x)
        for (int k = 0; k < 4; ++k)
            row[std::size_t(x) * 4 + std::size_t(k)] = JSAMPLE(255 - ink[k]);
    while (c.next_scanline < c.image_height) {
        JSAMPROW r = row.data();
        jpeg_write_scanlines(&c, &r, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    std::fclose(f);
}

void addExifOrientation(const std::string& jpegPath, int orientation) {
    std::vector<std::uint8_t> jpeg = readBytes(jpegPath);
    // "Exif\0\0" + little-endian TIFF header + one IFD entry: 0x0112 SHORT 1 = orientation.
    std::vector<std::uint8_t> tiff{'I',  'I',  0x2A, 0, 8, 0, 0, 0,  // header, IFD at 8
                                   1,    0,                          // one entry
                                   0x12, 0x01, 3,    0, 1, 0, 0, 0, std::uint8_t(orientation),
                                   0,    0,    0,    0, 0, 0, 0};  // no next IFD
    std::vector<std::uint8_t> payload{'E', 'x', 'i', 'f', 0, 0};
    payload.insert(payload.end(), tiff.begin(), tiff.end());
    const std::size_t len = payload.size() + 2;
    std::vector<std::uint8_t> segment{0xFF, 0xE1, std::uint8_t(len >> 8), std::uint8_t(len & 0xFF)};
    segment.insert(segment.end(), payload.begin(), payload.end());
    jpeg.insert(jpeg.begin() + 2, segment.begin(), segment.end());
    writeBytes(jpegPath, jpeg);
}

}  // namespace convscope::test
