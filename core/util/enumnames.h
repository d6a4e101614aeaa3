#pragma once

#include "error.h"

#include <cstddef>
#include <string>

namespace convscope {

/// One row of an enum's table of names: every enum that is written to files or typed on the
/// command line has one table, and its name and parse functions read it.
template <typename Enum>
struct EnumName {
    Enum value;
    const char* name;
};

/// The name of `value` in `table`; the first row's for a value the table lacks (a table
/// always lists every value, so that only happens for a value cast from a bad integer).
template <typename Enum, std::size_t N>
const char* enumName(Enum value, const EnumName<Enum> (&table)[N]) {
    for (const EnumName<Enum>& row : table)
        if (row.value == value)
            return row.name;
    return table[0].name;
}

/// The value called `name` in `table`. Throws convscope::Error(what, "unknown 'x' (a, b or
/// c)") for any other name.
template <typename Enum, std::size_t N>
Enum parseEnum(const std::string& name, const EnumName<Enum> (&table)[N], const char* what) {
    std::string choices;
    for (std::size_t i = 0; i < N; ++i) {
        if (name == table[i].name)
            return table[i].value;
        choices += std::string(i == 0 ? "" : i + 1 == N ? " or " : ", ") + table[i].name;
    }
    throw Error(what, "unknown '" + name + "' (" + choices + ")");
}

}  // namespace convscope
