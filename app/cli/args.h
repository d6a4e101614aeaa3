#pragma once

#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace convscope::cli {

/// A bad command line; main prints it with the usage line and exits with 2.
struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// Command-line arguments: positionals, `--name value` options and `--flag` switches.
/// Every option must be declared, so a typo is an error rather than silently ignored.
class Args {
public:
    Args(const std::vector<std::string>& argv, const std::set<std::string>& options,
         const std::set<std::string>& flags);

    const std::vector<std::string>& positionals() const { return m_positionals; }
    bool flag(const std::string& name) const { return m_flags.count(name) > 0; }
    std::optional<std::string> value(const std::string& name) const;
    std::string text(const std::string& name, const std::string& fallback) const;
    double number(const std::string& name, double fallback) const;
    long long integer(const std::string& name, long long fallback) const;
    /// "a,b" -> {a, b}; a single number x -> {x, x}.
    std::pair<double, double> pair(const std::string& name,
                                   std::pair<double, double> fallback) const;

private:
    std::vector<std::string> m_positionals;
    std::map<std::string, std::string> m_values;
    std::set<std::string> m_flags;
};

}  // namespace convscope::cli
