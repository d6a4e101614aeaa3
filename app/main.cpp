#include "cli/args.h"
#include "cli/commands.h"

#include "error.h"
#include "runtime.h"

#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace {

const char* kUsage =
    "usage: convscope <command> [arguments]\n"
    "\n"
    "commands:\n"
    "  scan DATA [--json] [--val-fraction F] [--seed N] [--decode [--size N]]\n"
    "      classes, counts, train/validation split and the import report of a folder\n"
    "  augment DATA|IMAGE --out DIR [--n 9] [--class NAME] [--seed N] [--size N]\n"
    "          [--rotation-range D] [--width-shift-range F] [--height-shift-range F]\n"
    "          [--shear-range D] [--zoom-range Z|LO,HI] [--horizontal-flip] [--vertical-flip]\n"
    "          [--brightness-range LO,HI] [--channel-shift-range C]\n"
    "          [--fill-mode constant|nearest|reflect|wrap] [--cval V]\n"
    "      writes augmented previews named <class>_<index>_<random>.jpeg\n"
    "  demo-data DIR [--per-class N] [--val-per-class N] [--source DIR]\n"
    "      exports Debian's Fashion-MNIST as class folders (train/ and validation/)\n";

}  // namespace

int main(int argc, char** argv) {
    const std::map<std::string, std::function<int(const std::vector<std::string>&)>> commands{
        {"scan", convscope::cli::scanCommand},
        {"augment", convscope::cli::augmentCommand},
        {"demo-data", convscope::cli::demoDataCommand},
    };
    if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
        std::fputs(kUsage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const auto command = commands.find(argv[1]);
    if (command == commands.end()) {
        std::fprintf(stderr, "convscope: unknown command '%s'\n\n%s", argv[1], kUsage);
        return 2;
    }
    convscope::configureThreads();
    try {
        return command->second(std::vector<std::string>(argv + 2, argv + argc));
    } catch (const convscope::cli::UsageError& e) {
        std::fprintf(stderr, "convscope %s: %s\n\n%s", argv[1], e.what(), kUsage);
        return 2;
    } catch (const convscope::Error& e) {
        std::fprintf(stderr, "convscope %s: %s\n", argv[1], e.what());
        return 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "convscope %s: %s\n", argv[1], e.what());
        return 1;
    }
}
