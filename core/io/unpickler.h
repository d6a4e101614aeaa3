#pragma once

#include <any>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace convscope {

struct PickleValue;
using PickleRef = std::shared_ptr<PickleValue>;

/// One value of a Python pickle: the builtin types a state_dict uses, a global reference
/// ("module.name"), or an object that the caller's hooks made (a tensor, a storage).
struct PickleValue {
    enum class Kind { None, Bool, Int, Float, String, Bytes, Tuple, List, Dict, Global, Object };
    Kind kind = Kind::None;
    bool boolean = false;
    std::int64_t integer = 0;
    double number = 0;
    /// String and Bytes: the contents; Global: "module.name"; Object: what it is, for messages.
    std::string text;
    std::vector<PickleRef> items;                          ///< Tuple, List
    std::vector<std::pair<PickleRef, PickleRef>> entries;  ///< Dict, in insertion order
    std::any object;                                       ///< Object

    /// "None", "int", "str", "tuple", "collections.OrderedDict" (a global), the object's text...
    std::string typeName() const;
    /// The entry of a Dict under a string key, or null.
    const PickleValue* find(const std::string& key) const;
};

/// What the caller decides while a pickle is read. Each hook may throw convscope::Error.
struct UnpicklerHooks {
    /// Called for each GLOBAL opcode, before the reference is pushed: refuse what is not wanted.
    std::function<void(const std::string& module, const std::string& name)> checkGlobal;
    /// REDUCE of a global other than collections.OrderedDict (which the reader builds itself):
    /// `global` is "module.name", `args` the argument tuple's items.
    std::function<PickleRef(const std::string& global, const std::vector<PickleRef>& args)> call;
    /// BINPERSID: turns a persistent id into the object it stands for.
    std::function<PickleRef(const PickleRef& id)> persistentLoad;
};

/// Reads one pickle with the opcodes torch.save's state_dicts use (protocol 2; FRAME, MEMOIZE
/// and STACK_GLOBAL of protocol 4 too): PROTO, FRAME, EMPTY_DICT/TUPLE/LIST, MARK, DICT, LIST,
/// GLOBAL, STACK_GLOBAL, BINPERSID, BININT, BININT1, BININT2, LONG1, BINFLOAT, BINUNICODE,
/// SHORT_BINUNICODE, BINUNICODE8, BINSTRING, SHORT_BINSTRING, BINBYTES, SHORT_BINBYTES, TUPLE,
/// TUPLE1-3, NEWTRUE, NEWFALSE, NONE, REDUCE, BUILD (kept for dicts, whose attributes such as
/// _metadata are dropped), BINPUT, LONG_BINPUT, MEMOIZE, BINGET, LONG_BINGET, SETITEM,
/// SETITEMS, APPEND, APPENDS, POP, POP_MARK, DUP, STOP.
/// Throws convscope::Error(subject, reason) for any other opcode (named), data that ends
/// early, a malformed stack, or whatever a hook throws. Thread-safe (no shared state).
PickleRef unpickle(const std::uint8_t* data, std::size_t size, const UnpicklerHooks& hooks,
                   const std::string& subject);

}  // namespace convscope
