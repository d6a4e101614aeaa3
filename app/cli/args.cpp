#include "cli/args.h"

#include <cmath>
#include <cstdlib>

namespace convscope::cli {

Args::Args(const std::vector<std::string>& argv, const std::set<std::string>& options,
           const std::set<std::string>& flags) {
    for (std::size_t i = 0; i < argv.size(); ++i) {
        const std::string& a = argv[i];
        if (a.rfind("--", 0) != 0 || a.size() == 2) {
            m_positionals.push_back(a);
            continue;
        }
        std::string name = a.substr(2);
        std::optional<std::string> inlineValue;
        if (const auto eq = name.find('='); eq != std::string::npos) {
            inlineValue = name.substr(eq + 1);
            name = name.substr(0, eq);
        }
        // Keras spells parameters with underscores (rotation_range); accept both.
        for (char& c : name)
            if (c == '_')
                c = '-';
        if (flags.count(name)) {
            if (inlineValue)
                throw UsageError("--" + name + " takes no value");
            m_flags.insert(name);
        } else if (options.count(name)) {
            if (inlineValue) {
                m_values[name] = *inlineValue;
            } else {
                if (i + 1 >= argv.size())
                    throw UsageError("--" + name + " needs a value");
                m_values[name] = argv[++i];
            }
        } else {
            throw UsageError("unknown option --" + name);
        }
    }
}

std::optional<std::string> Args::value(const std::string& name) const {
    const auto it = m_values.find(name);
    if (it == m_values.end())
        return std::nullopt;
    return it->second;
}

std::string Args::text(const std::string& name, const std::string& fallback) const {
    return value(name).value_or(fallback);
}

namespace {
double parseNumber(const std::string& name, const std::string& s) {
    char* end = nullptr;
    const double v = std::strtod(s.c_str(), &end);
    if (s.empty() || *end != '\0')
        throw UsageError("--" + name + ": '" + s + "' is not a number");
    // nan and inf parse, but no option means them (a NaN fraction crashed the split).
    if (!std::isfinite(v))
        throw UsageError("--" + name + ": '" + s + "' is not a finite number");
    return v;
}
}  // namespace

double Args::number(const std::string& name, double fallback) const {
    const auto v = value(name);
    return v ? parseNumber(name, *v) : fallback;
}

long long Args::integer(const std::string& name, long long fallback) const {
    const auto v = value(name);
    if (!v)
        return fallback;
    char* end = nullptr;
    const long long n = std::strtoll(v->c_str(), &end, 10);
    if (v->empty() || *end != '\0')
        throw UsageError("--" + name + ": '" + *v + "' is not an integer");
    return n;
}

std::pair<double, double> Args::pair(const std::string& name,
                                     std::pair<double, double> fallback) const {
    const auto v = value(name);
    if (!v)
        return fallback;
    const auto comma = v->find(',');
    if (comma == std::string::npos) {
        const double x = parseNumber(name, *v);
        return {x, x};
    }
    return {parseNumber(name, v->substr(0, comma)), parseNumber(name, v->substr(comma + 1))};
}

}  // namespace convscope::cli
