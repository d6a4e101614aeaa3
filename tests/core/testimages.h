#pragma once

#include <opencv2/core.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace convscope::test {

/// A fresh folder under the system temp folder, removed with everything in it at the end.
class TempDir {
public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::string& path() const { return m_path; }
    /// path()/relative, creating parent folders.
    std::string file(const std::string& relative) const;

private:
    std::string m_path;
};

/// While alive, files this process writes cannot grow past `bytes` (RLIMIT_FSIZE, with
/// SIGXFSZ ignored): write() fails with EFBIG as it would with ENOSPC on a full disk.
class FileSizeLimit {
public:
    explicit FileSizeLimit(std::uint64_t bytes);
    ~FileSizeLimit();
    FileSizeLimit(const FileSizeLimit&) = delete;
    FileSizeLimit& operator=(const FileSizeLimit&) = delete;

private:
    std::uint64_t m_oldSoft = 0;
    void (*m_oldHandler)(int) = nullptr;
};

/// The names in `folder` (not recursive), sorted.
std::vector<std::string> listFolder(const std::string& folder);

/// A w x h image of one RGB colour (stored BGR as OpenCV writes it).
cv::Mat solidBgr(int w, int h, cv::Scalar rgb);
/// A w x h image whose pixels all differ, for geometry checks (CV_8UC3).
cv::Mat patternBgr(int w, int h);
/// A w x h CV_8UC3 image of uniform random bytes, the same for the same seed.
cv::Mat noiseImage(int w, int h, int seed);
/// A w x h CV_8UC3 image linear in x, in y and in x + y (one channel each), from 0 to 255:
/// any bilinear resampling of it is exact up to rounding.
cv::Mat rampsImage(int w, int h);

void writeImage(const std::string& path, const cv::Mat& bgrOrGrey);
void writeBytes(const std::string& path, const std::vector<std::uint8_t>& bytes);
std::vector<std::uint8_t> readBytes(const std::string& path);

/// An 8-bit palette PNG (colour type 3) whose pixels are palette[index[y][x]].
void writePalettePng(const std::string& path, int w, int h,
                     const std::vector<cv::Vec3b>& paletteRgb,
                     const std::vector<std::uint8_t>& indices);
/// A PNG whose header claims width x height but which holds almost no data.
void writePngHeaderOnly(const std::string& path, std::uint32_t width, std::uint32_t height);
/// A CMYK JPEG in Adobe's inverted convention, all pixels the given ink values.
void writeCmykJpeg(const std::string& path, int w, int h, const std::uint8_t inkCmyk[4]);
/// Inserts an EXIF APP1 segment with the given Orientation tag into a JPEG file.
void addExifOrientation(const std::string& jpegPath, int orientation);

}  // namespace convscope::test
