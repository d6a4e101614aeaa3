#include "inspect/colormap.h"

#include "util/enumnames.h"

#include <algorithm>
#include <cmath>

namespace convscope {

namespace {

/// Viridis sampled at nine evenly spaced points (matplotlib's published table); linear
/// interpolation between them is within a few levels of the full 256-entry table.
constexpr std::uint8_t kViridis[9][3] = {{68, 1, 84},    {71, 44, 122},  {59, 81, 139},
                                         {44, 113, 142}, {33, 144, 141}, {39, 173, 129},
                                         {92, 200, 99},  {170, 220, 50}, {253, 231, 37}};

std::uint8_t toByte(float v) {
    return std::uint8_t(std::lround(std::clamp(v, 0.0f, 1.0f) * 255.0f));
}

const EnumName<Colormap> kColormaps[] = {
    {Colormap::Viridis, "viridis"}, {Colormap::Jet, "jet"}, {Colormap::Grey, "grey"}};

}  // namespace

const char* colormapName(Colormap c) {
    return enumName(c, kColormaps);
}

Colormap parseColormap(const std::string& name) {
    // "gray" is matplotlib's spelling, accepted as well.
    return parseEnum(name == "gray" ? std::string("grey") : name, kColormaps, "colour map");
}

std::array<std::uint8_t, 3> colormapColor(Colormap colormap, float t) {
    t = std::isfinite(t) ? std::clamp(t, 0.0f, 1.0f) : 0.0f;
    switch (colormap) {
        case Colormap::Grey: {
            const std::uint8_t v = toByte(t);
            return {v, v, v};
        }
        case Colormap::Jet:
            return {toByte(1.5f - std::abs(4 * t - 3)), toByte(1.5f - std::abs(4 * t - 2)),
                    toByte(1.5f - std::abs(4 * t - 1))};
        case Colormap::Viridis:
            break;
    }
    const float pos = t * 8;
    const int i = std::min(int(pos), 7);
    const float f = pos - float(i);
    std::array<std::uint8_t, 3> c{};
    for (int k = 0; k < 3; ++k)
        c[std::size_t(k)] = std::uint8_t(
            std::lround(kViridis[i][k] + f * float(kViridis[i + 1][k] - kViridis[i][k])));
    return c;
}

RgbImage colorize(const float* values, int width, int height, float lo, float hi,
                  Colormap colormap) {
    RgbImage out;
    out.width = width;
    out.height = height;
    out.pixels.resize(std::size_t(width) * std::size_t(height) * 3);
    const float scale = hi > lo ? 1.0f / (hi - lo) : 0.0f;
    // A 256-entry table: colour lookups dominate large grids otherwise.
    std::array<std::array<std::uint8_t, 3>, 256> table;
    for (int i = 0; i < 256; ++i)
        table[std::size_t(i)] = colormapColor(colormap, float(i) / 255.0f);
    std::uint8_t* p = out.pixels.data();
    for (std::size_t i = 0; i < std::size_t(width) * std::size_t(height); ++i, p += 3) {
        const float t = (values[i] - lo) * scale;
        const auto& c = table[std::isfinite(t) ? std::size_t(toByte(t)) : 0];
        p[0] = c[0];
        p[1] = c[1];
        p[2] = c[2];
    }
    return out;
}

RgbImage overlayHeat(const RgbImage& image, const std::vector<float>& heat, float opacity,
                     Colormap colormap) {
    const std::size_t n = std::size_t(image.width) * std::size_t(image.height);
    if (heat.size() != n)
        throw Error("heat map", "its size differs from the image's");
    const RgbImage colours = colorize(heat.data(), image.width, image.height, 0.0f, 1.0f, colormap);
    const float a = std::clamp(opacity, 0.0f, 1.0f);
    RgbImage out = image;
    for (std::size_t i = 0; i < n * 3; ++i)
        out.pixels[i] = std::uint8_t(
            std::lround((1 - a) * float(image.pixels[i]) + a * float(colours.pixels[i])));
    return out;
}

}  // namespace convscope
