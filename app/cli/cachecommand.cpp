#include "cli/args.h"
#include "cli/commands.h"
#include "cli/jsontext.h"

#include "data/decodedstore.h"
#include "util/text.h"

#include <cstdio>
#include <ctime>

namespace convscope::cli {

namespace {

std::string whenText(std::time_t t) {
    char text[32];
    std::tm local{};
    localtime_r(&t, &local);
    std::strftime(text, sizeof text, "%Y-%m-%d %H:%M", &local);
    return text;
}

int show(const DecodedStore& store, bool json) {
    const std::vector<DecodedStore::PackInfo> packs = store.packs();
    std::uint64_t used = 0;
    for (const auto& p : packs)
        used += p.bytes;
    if (json) {
        nlohmann::json j{{"directory", store.directory()},
                         {"bytes", used},
                         {"limit_bytes", store.limitBytes()},
                         {"packs", nlohmann::json::array()}};
        for (const auto& p : packs)
            j["packs"].push_back({{"path", p.path},
                                  {"dataset", p.datasetRoot},
                                  {"width", p.settings.width},
                                  {"height", p.settings.height},
                                  {"images", p.images},
                                  {"bytes", p.bytes},
                                  {"last_used", std::int64_t(p.lastUsed)}});
        std::printf("%s\n", jsonText(j).c_str());
        return 0;
    }
    std::printf("Decoded-image cache: %s\n", store.directory().c_str());
    std::printf(
        "Size: %s of %s (%zu dataset%s); change the limit with: convscope cache limit "
        "SIZE\n",
        readableBytes(used).c_str(), readableBytes(store.limitBytes()).c_str(), packs.size(),
        packs.size() == 1 ? "" : "s");
    for (const auto& p : packs) {
        if (p.datasetRoot.empty())
            std::printf("  %s  %s  unreadable (decoded afresh on next use)\n",
                        readableBytes(p.bytes).c_str(), whenText(p.lastUsed).c_str());
        else
            std::printf("  %s  %s  %zu images at %dx%d  %s\n", readableBytes(p.bytes).c_str(),
                        whenText(p.lastUsed).c_str(), p.images, p.settings.width, p.settings.height,
                        p.datasetRoot.c_str());
    }
    return 0;
}

}  // namespace

int cacheCommand(const std::vector<std::string>& argv) {
    const Args args(argv, {}, {"json"});
    const auto& words = args.positionals();
    const DecodedStore store;
    if (words.empty())
        return show(store, args.flag("json"));
    if (words[0] == "clear" && words.size() == 1) {
        const DecodedStore::Usage removed = store.clear();
        std::printf("Removed %zu cached dataset%s (%s) from %s\n", removed.packs,
                    removed.packs == 1 ? "" : "s", readableBytes(removed.bytes).c_str(),
                    store.directory().c_str());
        return 0;
    }
    if (words[0] == "limit" && words.size() == 2) {
        const std::uint64_t limit = parseByteSize(words[1]);
        store.setLimitBytes(limit);
        const std::vector<std::string> removed = store.enforceLimit();
        std::printf("Decoded-image cache limit: %s", readableBytes(limit).c_str());
        if (!removed.empty())
            std::printf(" (removed the %zu least recently used to fit)", removed.size());
        std::printf("\n");
        return 0;
    }
    throw UsageError("cache takes nothing, 'clear' or 'limit SIZE'");
}

}  // namespace convscope::cli
