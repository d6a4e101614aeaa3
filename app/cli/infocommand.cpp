#include "cli/args.h"
#include "cli/commands.h"

#include "runtime.h"

#include <cstdio>

namespace convscope::cli {

int infoCommand(const std::vector<std::string>& argv) {
    const Args args(argv, {}, {"json"});
    if (!args.positionals().empty())
        throw UsageError("info takes no arguments");
    const RuntimeInfo info = runtimeInfo();
    const std::string text =
        args.flag("json") ? runtimeInfoJson(info) + "\n" : runtimeInfoText(info);
    std::fputs(text.c_str(), stdout);
    return 0;
}

}  // namespace convscope::cli
