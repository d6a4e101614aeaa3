#include "dist/distsetup.h"

#include "error.h"

#include <charconv>
#include <cstdlib>

namespace convscope {

namespace {

std::optional<std::string> variable(const char* name) {
    const char* value = std::getenv(name);
    if (!value || !*value)
        return std::nullopt;
    return std::string(value);
}

int number(const char* name, const std::string& text, int low, int high) {
    int value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || value < low || value > high)
        throw Error(name, "'" + text + "' is not a whole number from " + std::to_string(low) +
                              " to " + std::to_string(high));
    return value;
}

int numberOr(const char* name, int fallback, int low, int high) {
    const auto text = variable(name);
    return text ? number(name, *text, low, high) : fallback;
}

}  // namespace

std::optional<DistributedSetup> distributedSetupFromEnvironment() {
    const auto rank = variable("RANK");
    const auto world = variable("WORLD_SIZE");
    if (!rank || !world)
        return std::nullopt;
    DistributedSetup s;
    s.worldSize = number("WORLD_SIZE", *world, 1, 1 << 16);
    s.worker = true;
    s.rank = number("RANK", *rank, 0, s.worldSize - 1);
    s.localWorldSize = numberOr("LOCAL_WORLD_SIZE", s.worldSize, 1, s.worldSize);
    s.localRank = numberOr("LOCAL_RANK", s.rank % s.localWorldSize, 0, s.localWorldSize - 1);
    if (const auto address = variable("MASTER_ADDR"))
        s.masterAddress = *address;
    s.masterPort = numberOr("MASTER_PORT", s.masterPort, 1, 65535);
    s.timeoutSeconds = numberOr("CONVSCOPE_DIST_TIMEOUT", s.timeoutSeconds, 1, 24 * 3600);
    return s;
}

}  // namespace convscope
