#include "io/unpickler.h"

#include "error.h"

#include <gtest/gtest.h>

#include <string>

using namespace std::string_literals;

using namespace convscope;
using Kind = PickleValue::Kind;

namespace {

PickleRef load(const std::string& bytes, const UnpicklerHooks& hooks = {}) {
    return unpickle(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size(), hooks,
                    "test.pkl");
}

std::string errorOf(const std::string& bytes, const UnpicklerHooks& hooks = {}) {
    try {
        load(bytes, hooks);
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

// Byte strings as Python's pickle (protocol 2) writes them; each noted with its source.
const std::string kProto2 = std::string("\x80\x02", 2);

}  // namespace

TEST(Unpickler, integersOfEveryWidthKeepTheirSign) {
    // pickle.dumps((-2, 200, 40000, -(2**40)), 2) uses BININT, BININT1, BININT2 and LONG1.
    const std::string bytes = kProto2 + "(J\xfe\xff\xff\xff" + "K\xc8" + "M\x40\x9c" +
                              std::string("\x8a\x06\x00\x00\x00\x00\x00\xff", 8) + "t.";
    const PickleRef v = load(bytes);
    ASSERT_EQ(v->kind, Kind::Tuple);
    ASSERT_EQ(v->items.size(), 4u);
    EXPECT_EQ(v->items[0]->integer, -2);
    EXPECT_EQ(v->items[1]->integer, 200);
    EXPECT_EQ(v->items[2]->integer, 40000);
    EXPECT_EQ(v->items[3]->integer, -(std::int64_t(1) << 40));
}

TEST(Unpickler, floatsStringsAndConstants) {
    // (1.5, "héllo", "ab", b"\x00\x01", True, False, None) with BINFLOAT, BINUNICODE,
    // SHORT_BINUNICODE... TUPLE over a MARK.
    const std::string bytes = kProto2 + "(G\x3f\xf8\x00\x00\x00\x00\x00\x00"s + "X" +
                              std::string("\x06\x00\x00\x00", 4) + "h\xc3\xa9llo" + "\x8c\x02" +
                              "ab" + "C\x02" + std::string("\x00\x01", 2) + "\x88\x89N" + "T" +
                              std::string("\x01\x00\x00\x00", 4) + "z" + "t.";
    const PickleRef v = load(bytes);
    ASSERT_EQ(v->items.size(), 8u);
    EXPECT_EQ(v->items[0]->kind, Kind::Float);
    EXPECT_DOUBLE_EQ(v->items[0]->number, 1.5);
    EXPECT_EQ(v->items[1]->text, "h\xc3\xa9llo");
    EXPECT_EQ(v->items[2]->text, "ab");
    EXPECT_EQ(v->items[3]->kind, Kind::Bytes);
    EXPECT_EQ(v->items[3]->text, std::string("\x00\x01", 2));
    EXPECT_TRUE(v->items[4]->boolean);
    EXPECT_FALSE(v->items[5]->boolean);
    EXPECT_EQ(v->items[6]->kind, Kind::None);
    EXPECT_EQ(v->items[7]->text, "z");
}

TEST(Unpickler, smallTuplesListsAndMemo) {
    // ((1,), (1, 2), [3, 3]) where the second 3 comes back from the memo.
    const std::string bytes =
        kProto2 + "K\x01\x85" + "K\x01K\x02\x86" + "](K\x03q\x05h\x05" + "e" + "\x87.";
    const PickleRef v = load(bytes);
    ASSERT_EQ(v->kind, Kind::Tuple);
    ASSERT_EQ(v->items.size(), 3u);
    EXPECT_EQ(v->items[0]->items.size(), 1u);
    EXPECT_EQ(v->items[1]->items[1]->integer, 2);
    ASSERT_EQ(v->items[2]->kind, Kind::List);
    ASSERT_EQ(v->items[2]->items.size(), 2u);
    EXPECT_EQ(v->items[2]->items[1]->integer, 3);
}

TEST(Unpickler, orderedDictKeepsInsertionOrderAndIgnoresItsAttributes) {
    // collections.OrderedDict([("b", 1), ("a", 2)]) with a _metadata attribute set by BUILD,
    // as torch.save writes a state_dict.
    const std::string good = kProto2 + "ccollections\nOrderedDict\nq\x00)Rq\x01(X"s +
                             std::string("\x01\x00\x00\x00", 4) + "bK\x01X" +
                             std::string("\x01\x00\x00\x00", 4) + "aK\x02u}X" +
                             std::string("\x09\x00\x00\x00", 4) + "_metadata" + "Nsb.";
    const PickleRef v = load(good);
    ASSERT_EQ(v->kind, Kind::Dict);
    ASSERT_EQ(v->entries.size(), 2u);
    EXPECT_EQ(v->entries[0].first->text, "b");
    EXPECT_EQ(v->entries[1].first->text, "a");
    ASSERT_NE(v->find("a"), nullptr);
    EXPECT_EQ(v->find("a")->integer, 2);
    EXPECT_EQ(v->find("missing"), nullptr);
}

TEST(Unpickler, hooksSeeGlobalsCallsAndPersistentIds) {
    // f(pid("k")) where f is module.f: GLOBAL, BINPERSID, TUPLE1, REDUCE.
    const std::string bytes =
        kProto2 + "cmod\nf\nX" + std::string("\x01\x00\x00\x00", 4) + "kQ\x85R.";
    std::vector<std::string> globals;
    UnpicklerHooks hooks;
    hooks.checkGlobal = [&](const std::string& m, const std::string& n) {
        globals.push_back(m + "." + n);
    };
    hooks.persistentLoad = [](const PickleRef& id) {
        auto v = std::make_shared<PickleValue>();
        v->kind = Kind::Object;
        v->text = "loaded:" + id->text;
        return v;
    };
    hooks.call = [](const std::string& global, const std::vector<PickleRef>& args) {
        auto v = std::make_shared<PickleValue>();
        v->kind = Kind::String;
        v->text = global + "(" + args.at(0)->text + ")";
        return v;
    };
    EXPECT_EQ(load(bytes, hooks)->text, "mod.f(loaded:k)");
    EXPECT_EQ(globals, std::vector<std::string>{"mod.f"});
}

TEST(Unpickler, aGlobalTheHookRefusesStopsReading) {
    UnpicklerHooks hooks;
    hooks.checkGlobal = [](const std::string& m, const std::string&) {
        throw Error("test.pkl", "refused " + m);
    };
    EXPECT_EQ(errorOf(kProto2 + "cos\nsystem\n.", hooks), "test.pkl: refused os");
}

TEST(Unpickler, unsupportedOpcodesAreNamed) {
    // NEWOBJ, as pickling a class instance writes it.
    const std::string error = errorOf(kProto2 + "cmod\nC\n)\x81.");
    EXPECT_NE(error.find("unsupported opcode NEWOBJ (0x81)"), std::string::npos) << error;
    EXPECT_NE(errorOf(kProto2 + "\xff").find("unknown opcode 0xff"), std::string::npos);
    EXPECT_NE(errorOf(kProto2 + "I1\n.").find("INT"), std::string::npos);
}

TEST(Unpickler, truncatedAndMalformedDataAreErrorsNotCrashes) {
    EXPECT_NE(errorOf(kProto2 + "X\x10\x00\x00\x00"s + "abc").find("truncated"), std::string::npos);
    EXPECT_NE(errorOf(kProto2 + "K").find("truncated"), std::string::npos);
    EXPECT_NE(errorOf(kProto2 + "K\x01").find("truncated"), std::string::npos);  // no STOP
    EXPECT_NE(errorOf(kProto2 + "t.").find("MARK"), std::string::npos);
    EXPECT_NE(errorOf(kProto2 + ".").find("underflow"), std::string::npos);
    EXPECT_NE(errorOf(kProto2 + "h\x03.").find("memo"), std::string::npos);
    EXPECT_NE(errorOf(kProto2 + "K\x01K\x02.").find("left on the stack"), std::string::npos);
    EXPECT_NE(errorOf(kProto2 + "K\x01)R.").find("not a global"), std::string::npos);
    EXPECT_NE(errorOf(kProto2 + "cmod\nf\n)R.").find("does not know"), std::string::npos);
    EXPECT_NE(errorOf(kProto2 + "K\x05K\x01K\x02s.").find("SETITEM(S) on a int"),
              std::string::npos);
    EXPECT_NE(errorOf(""), "");
}

TEST(Unpickler, protocolFourFramesMemoizeAndStackGlobal) {
    // FRAME, SHORT_BINUNICODE x2, MEMOIZE, STACK_GLOBAL, EMPTY_TUPLE, REDUCE: OrderedDict().
    const std::string bytes = std::string("\x80\x04\x95", 3) + std::string(8, '\0') + "\x8c\x0b" +
                              "collections\x94\x8c\x0bOrderedDict\x94\x93\x94)R.";
    const PickleRef v = load(bytes);
    EXPECT_EQ(v->kind, Kind::Dict);
    EXPECT_TRUE(v->entries.empty());
}
