#include "cli/modeloptions.h"

#include "cli/args.h"

namespace convscope::cli {

const std::set<std::string> kModelOptions{"arch", "size", "classes", "head"};

/// For weight files without ConvScope metadata: --arch, --size, --classes a,b,c [--head].
std::optional<WeightsMetadata> fallbackMetadata(const Args& args) {
    const auto classes = args.value("classes");
    if (!classes)
        return std::nullopt;
    WeightsMetadata m;
    m.model.architecture = parseArchitecture(args.text("arch", "small"));
    m.model.head = parseHead(args.text("head", "flatten"));
    m.model.inputSize = int(args.integer("size", 150));
    std::size_t start = 0;
    while (start <= classes->size()) {
        const std::size_t comma = classes->find(',', start);
        m.classNames.push_back(
            classes->substr(start, comma == std::string::npos ? std::string::npos : comma - start));
        if (comma == std::string::npos)
            break;
        start = comma + 1;
    }
    m.model.classCount = int(m.classNames.size());
    return m;
}

}  // namespace convscope::cli
