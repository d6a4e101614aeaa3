#include "cli/augmentoptions.h"

namespace convscope::cli {

const std::set<std::string>& augmentOptionNames() {
    static const std::set<std::string> names{
        "rotation-range",      "width-shift-range", "height-shift-range",
        "shear-range",         "zoom-range",        "brightness-range",
        "channel-shift-range", "fill-mode",         "cval"};
    return names;
}

const std::set<std::string>& augmentFlagNames() {
    static const std::set<std::string> names{"horizontal-flip", "vertical-flip"};
    return names;
}

AugmentParams augmentParamsFromArgs(const Args& args) {
    AugmentParams p;
    p.rotationRange = args.number("rotation-range", 0);
    p.widthShiftRange = args.number("width-shift-range", 0);
    p.heightShiftRange = args.number("height-shift-range", 0);
    p.shearRange = args.number("shear-range", 0);
    if (const auto zoom = args.value("zoom-range")) {
        if (zoom->find(',') == std::string::npos) {
            p.setZoomRange(args.number("zoom-range", 0));
        } else {
            std::tie(p.zoomLow, p.zoomHigh) = args.pair("zoom-range", {1, 1});
        }
    }
    std::tie(p.brightnessLow, p.brightnessHigh) = args.pair("brightness-range", {1, 1});
    p.channelShiftRange = args.number("channel-shift-range", 0);
    p.horizontalFlip = args.flag("horizontal-flip");
    p.verticalFlip = args.flag("vertical-flip");
    p.fillMode = parseFillMode(args.text("fill-mode", "nearest"));
    p.cval = args.number("cval", 0);
    for (double v : {p.rotationRange, p.widthShiftRange, p.heightShiftRange, p.shearRange,
                     p.channelShiftRange}) {
        if (v < 0)
            throw UsageError("augmentation ranges must not be negative");
    }
    if (p.zoomLow <= 0 || p.zoomHigh < p.zoomLow)
        throw UsageError("--zoom-range must give 0 < low <= high");
    if (p.brightnessLow < 0 || p.brightnessHigh < p.brightnessLow)
        throw UsageError("--brightness-range must give 0 <= low <= high");
    return p;
}

}  // namespace convscope::cli
