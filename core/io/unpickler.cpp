#include "io/unpickler.h"

#include "error.h"

#include <cstdio>
#include <cstring>
#include <unordered_map>
#include <unordered_set>

namespace convscope {

namespace {

using Kind = PickleValue::Kind;

/// Every opcode of pickle protocols 0-5, for naming the ones that are not supported.
struct OpcodeName {
    std::uint8_t op;
    const char* name;
};
// clang-format off: a table reads better in rows
constexpr OpcodeName kOpcodeNames[] = {{'(', "MARK"},
                                       {'.', "STOP"},
                                       {'0', "POP"},
                                       {'1', "POP_MARK"},
                                       {'2', "DUP"},
                                       {'F', "FLOAT"},
                                       {'I', "INT"},
                                       {'J', "BININT"},
                                       {'K', "BININT1"},
                                       {'L', "LONG"},
                                       {'M', "BININT2"},
                                       {'N', "NONE"},
                                       {'P', "PERSID"},
                                       {'Q', "BINPERSID"},
                                       {'R', "REDUCE"},
                                       {'S', "STRING"},
                                       {'T', "BINSTRING"},
                                       {'U', "SHORT_BINSTRING"},
                                       {'V', "UNICODE"},
                                       {'X', "BINUNICODE"},
                                       {'a', "APPEND"},
                                       {'b', "BUILD"},
                                       {'c', "GLOBAL"},
                                       {'d', "DICT"},
                                       {'}', "EMPTY_DICT"},
                                       {'e', "APPENDS"},
                                       {'g', "GET"},
                                       {'h', "BINGET"},
                                       {'i', "INST"},
                                       {'j', "LONG_BINGET"},
                                       {'l', "LIST"},
                                       {']', "EMPTY_LIST"},
                                       {'o', "OBJ"},
                                       {'p', "PUT"},
                                       {'q', "BINPUT"},
                                       {'r', "LONG_BINPUT"},
                                       {'s', "SETITEM"},
                                       {'t', "TUPLE"},
                                       {')', "EMPTY_TUPLE"},
                                       {'u', "SETITEMS"},
                                       {'G', "BINFLOAT"},
                                       {'B', "BINBYTES"},
                                       {'C', "SHORT_BINBYTES"},
                                       {0x80, "PROTO"},
                                       {0x81, "NEWOBJ"},
                                       {0x82, "EXT1"},
                                       {0x83, "EXT2"},
                                       {0x84, "EXT4"},
                                       {0x85, "TUPLE1"},
                                       {0x86, "TUPLE2"},
                                       {0x87, "TUPLE3"},
                                       {0x88, "NEWTRUE"},
                                       {0x89, "NEWFALSE"},
                                       {0x8a, "LONG1"},
                                       {0x8b, "LONG4"},
                                       {0x8c, "SHORT_BINUNICODE"},
                                       {0x8d, "BINUNICODE8"},
                                       {0x8e, "BINBYTES8"},
                                       {0x8f, "EMPTY_SET"},
                                       {0x90, "ADDITEMS"},
                                       {0x91, "FROZENSET"},
                                       {0x92, "NEWOBJ_EX"},
                                       {0x93, "STACK_GLOBAL"},
                                       {0x94, "MEMOIZE"},
                                       {0x95, "FRAME"},
                                       {0x96, "BYTEARRAY8"},
                                       {0x97, "NEXT_BUFFER"},
                                       {0x98, "READONLY_BUFFER"}};
// clang-format on

const char* opcodeName(std::uint8_t op) {
    for (const OpcodeName& entry : kOpcodeNames)
        if (entry.op == op)
            return entry.name;
    return nullptr;
}

PickleRef make(Kind kind) {
    auto v = std::make_shared<PickleValue>();
    v->kind = kind;
    return v;
}

class Reader {
public:
    Reader(const std::uint8_t* data, std::size_t size, const UnpicklerHooks& hooks,
           const std::string& subject)
        : m_data(data), m_size(size), m_hooks(hooks), m_subject(subject) {}
    Reader(const Reader&) = delete;
    Reader& operator=(const Reader&) = delete;

    // A pickle can append a list to itself or set a dict into itself (through DUP or the
    // memo), and shared_ptr never frees such a cycle. The result is refused if it holds one
    // (run()); every list and dict that is not part of it is emptied here, which breaks any
    // cycle among the rest and frees deep nests without deep recursion.
    ~Reader() {
        for (const PickleRef& c : m_containers) {
            if (!m_kept.count(c.get())) {
                c->items.clear();
                c->entries.clear();
            }
        }
    }

    PickleRef run();

private:
    [[noreturn]] void fail(const std::string& reason) const {
        throw Error(m_subject,
                    "pickle: " + reason + " (at byte " + std::to_string(m_opStart) + ")");
    }

    const std::uint8_t* take(std::size_t n) {
        if (n > m_size - m_pos)
            fail("data ends in the middle of an opcode (truncated file?)");
        const std::uint8_t* p = m_data + m_pos;
        m_pos += n;
        return p;
    }

    std::uint64_t littleEndian(std::size_t n) {
        const std::uint8_t* p = take(n);
        std::uint64_t v = 0;
        for (std::size_t i = 0; i < n; ++i)
            v |= std::uint64_t(p[i]) << (8 * i);
        return v;
    }

    std::string bytes(std::uint64_t n) {
        if (n > m_size - m_pos)
            fail("a string runs past the end of the data (truncated file?)");
        const char* p = reinterpret_cast<const char*>(take(std::size_t(n)));
        return std::string(p, std::size_t(n));
    }

    std::string line() {
        std::string out;
        for (;;) {
            const char c = char(*take(1));
            if (c == '\n')
                return out;
            out += c;
        }
    }

    void push(PickleRef v) { m_stack.push_back(std::move(v)); }

    PickleRef pop() {
        if (m_stack.size() <= (m_marks.empty() ? 0 : m_marks.back()))
            fail("stack underflow");
        PickleRef v = std::move(m_stack.back());
        m_stack.pop_back();
        return v;
    }

    PickleRef& top() {
        if (m_stack.size() <= (m_marks.empty() ? 0 : m_marks.back()))
            fail("stack underflow");
        return m_stack.back();
    }

    /// The values above the last MARK, which is removed.
    std::vector<PickleRef> popToMark() {
        if (m_marks.empty())
            fail("no MARK on the stack");
        const std::size_t mark = m_marks.back();
        m_marks.pop_back();
        std::vector<PickleRef> items(m_stack.begin() + std::ptrdiff_t(mark), m_stack.end());
        m_stack.resize(mark);
        return items;
    }

    PickleRef container(Kind kind) {
        PickleRef v = make(kind);
        m_containers.push_back(v);
        return v;
    }

    /// Walks everything `root` holds, without recursion: fails on a value that contains
    /// itself or a nest deeper than kMaxDepth, and records every value it saw in m_kept.
    void checkTree(const PickleValue& root) {
        constexpr std::size_t kMaxDepth = 1000;
        enum class Mark { Open, Done };
        std::unordered_map<const PickleValue*, Mark> marks;
        // Each frame: a value and how many of its children have been visited.
        std::vector<std::pair<const PickleValue*, std::size_t>> path{{&root, 0}};
        marks[&root] = Mark::Open;
        while (!path.empty()) {
            auto& [value, next] = path.back();
            const std::size_t children = value->items.size() + 2 * value->entries.size();
            if (next == children) {
                marks[value] = Mark::Done;
                path.pop_back();
                continue;
            }
            const std::size_t i = next++;
            const PickleValue* child =
                i < value->items.size()
                    ? value->items[i].get()
                    : ((i - value->items.size()) % 2 == 0
                           ? value->entries[(i - value->items.size()) / 2].first.get()
                           : value->entries[(i - value->items.size()) / 2].second.get());
            const auto [it, inserted] = marks.emplace(child, Mark::Open);
            if (!inserted) {
                if (it->second == Mark::Open)
                    fail("a " + child->typeName() + " that contains itself");
                continue;
            }
            if (path.size() >= kMaxDepth)
                fail("values nested deeper than " + std::to_string(kMaxDepth) + " levels");
            path.emplace_back(child, 0);
        }
        for (const auto& entry : marks)
            m_kept.insert(entry.first);
    }

    PickleRef string(std::string s, Kind kind = Kind::String) {
        PickleRef v = make(kind);
        v->text = std::move(s);
        return v;
    }

    PickleRef integer(std::int64_t i) {
        PickleRef v = make(Kind::Int);
        v->integer = i;
        return v;
    }

    PickleRef tuple(std::vector<PickleRef> items) {
        PickleRef v = make(Kind::Tuple);
        v->items = std::move(items);
        return v;
    }

    void global(const std::string& module, const std::string& name) {
        if (m_hooks.checkGlobal)
            m_hooks.checkGlobal(module, name);
        push(string(module + "." + name, Kind::Global));
    }

    void setItems(PickleValue& dict, const std::vector<PickleRef>& flat) {
        if (dict.kind != Kind::Dict)
            fail("SETITEM(S) on a " + dict.typeName());
        if (flat.size() % 2)
            fail("SETITEMS with an odd number of values");
        for (std::size_t i = 0; i < flat.size(); i += 2) {
            bool replaced = false;
            if (flat[i]->kind == Kind::String) {
                for (auto& entry : dict.entries) {
                    if (entry.first->kind == Kind::String && entry.first->text == flat[i]->text) {
                        entry.second = flat[i + 1];
                        replaced = true;
                        break;
                    }
                }
            }
            if (!replaced)
                dict.entries.emplace_back(flat[i], flat[i + 1]);
        }
    }

    void append(PickleValue& list, const std::vector<PickleRef>& items) {
        if (list.kind != Kind::List)
            fail("APPEND(S) on a " + list.typeName());
        list.items.insert(list.items.end(), items.begin(), items.end());
    }

    void reduce() {
        const PickleRef args = pop();
        const PickleRef callable = pop();
        if (callable->kind != Kind::Global)
            fail("REDUCE calls a " + callable->typeName() + ", not a global");
        if (args->kind != Kind::Tuple)
            fail("REDUCE with " + args->typeName() + " arguments");
        if (callable->text == "collections.OrderedDict") {
            if (!args->items.empty())
                fail("collections.OrderedDict with arguments");
            push(container(Kind::Dict));
            return;
        }
        if (!m_hooks.call)
            fail("calls " + callable->text + ", which this reader does not know");
        PickleRef result = m_hooks.call(callable->text, args->items);
        if (!result)
            fail(callable->text + " gave nothing");
        push(std::move(result));
    }

    void memoPut(std::uint64_t index) { m_memo[index] = top(); }

    void memoGet(std::uint64_t index) {
        const auto it = m_memo.find(index);
        if (it == m_memo.end())
            fail("memo entry " + std::to_string(index) + " was never stored");
        push(it->second);
    }

    const std::uint8_t* m_data;
    std::size_t m_size;
    const UnpicklerHooks& m_hooks;
    const std::string& m_subject;
    std::size_t m_pos = 0;
    std::size_t m_opStart = 0;
    std::vector<PickleRef> m_stack;
    std::vector<std::size_t> m_marks;
    std::unordered_map<std::uint64_t, PickleRef> m_memo;
    std::vector<PickleRef> m_containers;            // every list and dict made, for ~Reader
    std::unordered_set<const PickleValue*> m_kept;  // what the result holds
};

PickleRef Reader::run() {
    for (;;) {
        m_opStart = m_pos;
        const std::uint8_t op = *take(1);
        switch (op) {
            case 0x80:  // PROTO
                if (*take(1) > 5)
                    fail("unknown pickle protocol");
                break;
            case 0x95:  // FRAME: a length prefix only; the frame's opcodes follow inline
                take(8);
                break;
            case '}':
                push(container(Kind::Dict));
                break;
            case ')':
                push(make(Kind::Tuple));
                break;
            case ']':
                push(container(Kind::List));
                break;
            case '(':
                m_marks.push_back(m_stack.size());
                break;
            case 'd': {
                PickleRef dict = container(Kind::Dict);
                setItems(*dict, popToMark());
                push(dict);
                break;
            }
            case 'l': {
                PickleRef list = container(Kind::List);
                list->items = popToMark();
                push(list);
                break;
            }
            case 'c': {
                const std::string module = line();
                global(module, line());
                break;
            }
            case 0x93: {  // STACK_GLOBAL
                const PickleRef name = pop();
                const PickleRef module = pop();
                if (module->kind != Kind::String || name->kind != Kind::String)
                    fail("STACK_GLOBAL needs two strings");
                global(module->text, name->text);
                break;
            }
            case 'Q': {
                const PickleRef id = pop();
                if (!m_hooks.persistentLoad)
                    fail("a persistent id, which this reader does not resolve");
                push(m_hooks.persistentLoad(id));
                break;
            }
            case 'J':
                push(integer(std::int32_t(std::uint32_t(littleEndian(4)))));
                break;
            case 'K':
                push(integer(std::int64_t(littleEndian(1))));
                break;
            case 'M':
                push(integer(std::int64_t(littleEndian(2))));
                break;
            case 0x8a: {  // LONG1: n bytes of two's complement, little-endian
                const std::size_t n = *take(1);
                if (n > 8)
                    fail("an integer wider than 64 bits");
                std::uint64_t v = n ? littleEndian(n) : 0;
                if (n && n < 8 && (v >> (8 * n - 1)) & 1)
                    v |= ~std::uint64_t(0) << (8 * n);
                push(integer(std::int64_t(v)));
                break;
            }
            case 'G': {  // BINFLOAT: big-endian IEEE 754 double
                const std::uint8_t* p = take(8);
                std::uint64_t bits = 0;
                for (int i = 0; i < 8; ++i)
                    bits = (bits << 8) | p[i];
                PickleRef v = make(Kind::Float);
                std::memcpy(&v->number, &bits, sizeof bits);
                push(v);
                break;
            }
            case 'X':
                push(string(bytes(littleEndian(4))));
                break;
            case 0x8c:
                push(string(bytes(littleEndian(1))));
                break;
            case 0x8d:
                push(string(bytes(littleEndian(8))));
                break;
            case 'T': {
                const auto n = std::int32_t(std::uint32_t(littleEndian(4)));
                if (n < 0)
                    fail("BINSTRING with a negative length");
                push(string(bytes(std::uint64_t(n))));
                break;
            }
            case 'U':
                push(string(bytes(littleEndian(1))));
                break;
            case 'B':
                push(string(bytes(littleEndian(4)), Kind::Bytes));
                break;
            case 'C':
                push(string(bytes(littleEndian(1)), Kind::Bytes));
                break;
            case 't':
                push(tuple(popToMark()));
                break;
            case 0x85:
            case 0x86:
            case 0x87: {
                std::vector<PickleRef> items(std::size_t(op - 0x84));
                for (auto it = items.rbegin(); it != items.rend(); ++it)
                    *it = pop();
                push(tuple(std::move(items)));
                break;
            }
            case 0x88:
            case 0x89: {
                PickleRef v = make(Kind::Bool);
                v->boolean = op == 0x88;
                push(v);
                break;
            }
            case 'N':
                push(make(Kind::None));
                break;
            case 'R':
                reduce();
                break;
            case 'b': {
                const PickleRef state = pop();
                // An OrderedDict's attributes (a state_dict's _metadata) are not needed.
                if (top()->kind != Kind::Dict)
                    fail("BUILD on a " + top()->typeName() + ", which this reader cannot set up");
                (void)state;
                break;
            }
            case 'q':
                memoPut(littleEndian(1));
                break;
            case 'r':
                memoPut(littleEndian(4));
                break;
            case 0x94:
                memoPut(m_memo.size());
                break;
            case 'h':
                memoGet(littleEndian(1));
                break;
            case 'j':
                memoGet(littleEndian(4));
                break;
            case 's': {
                const PickleRef value = pop();
                const PickleRef key = pop();
                setItems(*top(), {key, value});
                break;
            }
            case 'u': {
                const std::vector<PickleRef> flat = popToMark();
                setItems(*top(), flat);
                break;
            }
            case 'a': {
                const PickleRef value = pop();
                append(*top(), {value});
                break;
            }
            case 'e': {
                const std::vector<PickleRef> items = popToMark();
                append(*top(), items);
                break;
            }
            case '0':
                pop();
                break;
            case '1':
                popToMark();
                break;
            case '2':
                push(top());
                break;
            case '.': {
                PickleRef result = pop();
                if (!m_stack.empty() || !m_marks.empty())
                    fail("values left on the stack at STOP");
                checkTree(*result);
                return result;
            }
            default: {
                const char* name = opcodeName(op);
                char hex[8];
                std::snprintf(hex, sizeof hex, "0x%02x", unsigned(op));
                fail(name ? "unsupported opcode " + std::string(name) + " (" + hex + ")"
                          : "unknown opcode " + std::string(hex) + " (not a pickle?)");
            }
        }
    }
}

}  // namespace

std::string PickleValue::typeName() const {
    switch (kind) {
        case Kind::None:
            return "None";
        case Kind::Bool:
            return "bool";
        case Kind::Int:
            return "int";
        case Kind::Float:
            return "float";
        case Kind::String:
            return "str";
        case Kind::Bytes:
            return "bytes";
        case Kind::Tuple:
            return "tuple";
        case Kind::List:
            return "list";
        case Kind::Dict:
            return "dict";
        case Kind::Global:
            return text;
        case Kind::Object:
            return text.empty() ? "object" : text;
    }
    return "value";
}

const PickleValue* PickleValue::find(const std::string& key) const {
    if (kind != Kind::Dict)
        return nullptr;
    for (const auto& [k, v] : entries)
        if (k->kind == Kind::String && k->text == key)
            return v.get();
    return nullptr;
}

PickleRef unpickle(const std::uint8_t* data, std::size_t size, const UnpicklerHooks& hooks,
                   const std::string& subject) {
    if (size == 0)
        throw Error(subject, "pickle: no data");
    return Reader(data, size, hooks, subject).run();
}

}  // namespace convscope
