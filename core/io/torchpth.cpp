#include "io/torchpth.h"

#include "error.h"
#include "io/unpickler.h"

#include <caffe2/serialize/inline_container.h>
#include <torch/torch.h>

#include <cstring>
#include <fstream>
#include <map>

namespace convscope {

namespace {

using Kind = PickleValue::Kind;

/// One storage of the archive: a record `data/<key>` of `numel` elements of `dtype`.
struct Storage {
    std::string key;
    torch::ScalarType dtype = torch::kFloat32;
    std::int64_t numel = 0;
    torch::Tensor data;  // flat; undefined when only shapes are read
};

bool storageDtype(const std::string& type, torch::ScalarType& dtype) {
    static const std::map<std::string, torch::ScalarType> types{
        {"FloatStorage", torch::kFloat32}, {"DoubleStorage", torch::kFloat64},
        {"HalfStorage", torch::kFloat16},  {"BFloat16Storage", torch::kBFloat16},
        {"LongStorage", torch::kInt64},    {"IntStorage", torch::kInt32},
        {"ShortStorage", torch::kInt16},   {"CharStorage", torch::kInt8},
        {"ByteStorage", torch::kUInt8},    {"BoolStorage", torch::kBool},
        {"UntypedStorage", torch::kUInt8}};
    const auto it = types.find(type);
    if (it == types.end())
        return false;
    dtype = it->second;
    return true;
}

std::vector<std::int64_t> intTuple(const PickleValue& v, const char* what,
                                   const std::string& path) {
    if (v.kind != Kind::Tuple)
        throw Error(path,
                    std::string("tensor ") + what + " is a " + v.typeName() + ", not a tuple");
    std::vector<std::int64_t> out;
    for (const auto& item : v.items) {
        if (item->kind != Kind::Int)
            throw Error(path, std::string("tensor ") + what + " holds a " + item->typeName());
        out.push_back(item->integer);
    }
    return out;
}

/// Builds the tensors as the pickle asks for them; owns the archive reader.
class StateDictReader {
public:
    StateDictReader(caffe2::serialize::PyTorchStreamReader& archive, const std::string& path,
                    bool withValues)
        : m_archive(archive), m_path(path), m_withValues(withValues) {}

    UnpicklerHooks hooks() {
        UnpicklerHooks h;
        h.checkGlobal = [this](const std::string& module, const std::string& name) {
            checkGlobal(module, name);
        };
        h.call = [this](const std::string& global, const std::vector<PickleRef>& args) {
            return call(global, args);
        };
        h.persistentLoad = [this](const PickleRef& id) { return persistentLoad(*id); };
        return h;
    }

private:
    void checkGlobal(const std::string& module, const std::string& name) const {
        torch::ScalarType dtype;
        if ((module == "collections" && name == "OrderedDict") ||
            (module == "torch" && storageDtype(name, dtype)) ||
            (module == "torch._utils" &&
             (name == "_rebuild_tensor_v2" || name == "_rebuild_parameter" ||
              name == "_rebuild_parameter_with_state")))
            return;
        if (module.rfind("torch._utils", 0) == 0 || module == "torch")
            throw Error(m_path, "holds a tensor kind this reader does not support (" + module +
                                    "." + name + "; quantized or sparse?)");
        throw Error(m_path, "holds a pickled " + module + "." + name +
                                ", not a state_dict of tensors (a whole model saved with "
                                "torch.save(model)?); in Python, save the weights alone: "
                                "torch.save(model.state_dict(), path)");
    }

    PickleRef persistentLoad(const PickleValue& id) {
        // ('storage', torch.FloatStorage, key, location, numel)
        if (id.kind != Kind::Tuple || id.items.size() < 5 || id.items[0]->kind != Kind::String ||
            id.items[0]->text != "storage" || id.items[1]->kind != Kind::Global ||
            id.items[2]->kind != Kind::String || id.items[4]->kind != Kind::Int)
            throw Error(m_path, "a persistent id that is not a storage record");
        Storage s;
        s.key = id.items[2]->text;
        s.numel = id.items[4]->integer;
        const std::string& type = id.items[1]->text;
        if (type.rfind("torch.", 0) != 0 || !storageDtype(type.substr(6), s.dtype))
            throw Error(m_path, "storage " + s.key + " has an unsupported type " + type);
        if (s.numel < 0)
            throw Error(m_path, "storage " + s.key + " has a negative size");
        const auto cached = m_storages.find(s.key);
        if (cached != m_storages.end())
            s = cached->second;
        else
            s = m_storages[s.key] = load(s);
        PickleRef v = std::make_shared<PickleValue>();
        v->kind = Kind::Object;
        v->text = "storage";
        v->object = s;
        return v;
    }

    Storage load(Storage s) {
        const std::string record = "data/" + s.key;
        if (!m_archive.hasRecord(record))
            throw Error(m_path, "storage record " + record + " is missing from the archive");
        if (!m_withValues)
            return s;
        auto [data, bytes] = m_archive.getRecord(record);
        const std::size_t elementBytes = c10::elementSize(s.dtype);
        if (std::uint64_t(s.numel) > bytes / elementBytes)
            throw Error(m_path, "storage record " + record + " holds " + std::to_string(bytes) +
                                    " bytes, too few for " + std::to_string(s.numel) + " elements");
        // The tensor keeps the record's memory alive instead of copying it.
        auto owner = std::make_shared<at::DataPtr>(std::move(data));
        void* raw = owner->get();
        s.data = torch::from_blob(
            raw, {s.numel}, [owner](void*) mutable { owner.reset(); },
            torch::TensorOptions().dtype(s.dtype));
        return s;
    }

    PickleRef call(const std::string& global, const std::vector<PickleRef>& args) {
        if (global == "torch._utils._rebuild_parameter" ||
            global == "torch._utils._rebuild_parameter_with_state") {
            if (args.empty() || args[0]->kind != Kind::Object || args[0]->text != "tensor")
                throw Error(m_path, global + " without a tensor");
            return args[0];
        }
        if (global == "torch._utils._rebuild_tensor_v2")
            return rebuildTensor(args);
        throw Error(m_path, "calls " + global + ", which a state_dict does not use");
    }

    /// _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, hooks[, meta])
    PickleRef rebuildTensor(const std::vector<PickleRef>& args) {
        if (args.size() < 4 || args[0]->kind != Kind::Object || args[0]->text != "storage" ||
            args[1]->kind != Kind::Int)
            throw Error(m_path, "a tensor record with unexpected arguments");
        const auto& storage = std::any_cast<const Storage&>(args[0]->object);
        const std::int64_t offset = args[1]->integer;
        const auto size = intTuple(*args[2], "size", m_path);
        const auto stride = intTuple(*args[3], "stride", m_path);
        if (size.size() != stride.size())
            throw Error(m_path, "a tensor whose size and stride differ in length");
        std::int64_t last = offset, count = 1;
        for (std::size_t i = 0; i < size.size(); ++i) {
            if (size[i] < 0 || stride[i] < 0)
                throw Error(m_path, "a tensor with a negative size or stride");
            // Sizes and strides come from the file: overflow is damage, not arithmetic.
            std::int64_t reach = 0;
            if (__builtin_mul_overflow(count, size[i], &count) ||
                (size[i] > 0 && (__builtin_mul_overflow(size[i] - 1, stride[i], &reach) ||
                                 __builtin_add_overflow(last, reach, &last))))
                throw Error(m_path, "a tensor whose size or stride is out of range");
        }
        if (count > 0 && (offset < 0 || last >= storage.numel))
            throw Error(m_path, "a tensor reaches past the end of storage " + storage.key);
        TorchTensorEntry entry;
        entry.shape = size;
        entry.dtype = storage.dtype;
        if (m_withValues)
            entry.value = count > 0 ? storage.data.as_strided(size, stride, offset).contiguous()
                                    : torch::empty(size, storage.data.options());
        PickleRef v = std::make_shared<PickleValue>();
        v->kind = Kind::Object;
        v->text = "tensor";
        v->object = std::move(entry);
        return v;
    }

    caffe2::serialize::PyTorchStreamReader& m_archive;
    const std::string& m_path;
    bool m_withValues;
    std::map<std::string, Storage> m_storages;
};

bool isTensor(const PickleValue& v) {
    return v.kind == Kind::Object && v.text == "tensor";
}

bool holdsTensors(const PickleValue& dict) {
    for (const auto& entry : dict.entries)
        if (isTensor(*entry.second))
            return true;
    return false;
}

/// The state_dict in what the pickle holds: itself, or a checkpoint's model entry.
const PickleValue& stateDictIn(const PickleValue& root, const std::string& path) {
    if (root.kind != Kind::Dict)
        throw Error(path, "holds a " + root.typeName() + ", not a state_dict");
    if (holdsTensors(root))
        return root;
    for (const char* key : {"state_dict", "model_state_dict", "model"}) {
        const PickleValue* inner = root.find(key);
        if (inner && inner->kind == Kind::Dict && holdsTensors(*inner))
            return *inner;
    }
    throw Error(path, "holds a dict without tensors, not a state_dict");
}

void checkSignature(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw Error(path, "cannot open");
    char head[4] = {};
    in.read(head, 4);
    const auto got = in.gcount();
    if (got == 0)
        throw Error(path, "empty file");
    if (got == 4 && head[0] == 'P' && head[1] == 'K' && head[2] == 3 && head[3] == 4)
        return;
    if (std::uint8_t(head[0]) == 0x80)
        throw Error(path,
                    "a legacy PyTorch file (saved before PyTorch 1.6, or with "
                    "_use_new_zipfile_serialization=False), which ConvScope does not read; "
                    "re-save it with a current PyTorch: "
                    "torch.save(torch.load(old_path), new_path)");
    throw Error(path, "not a PyTorch state_dict file (no zip archive, as torch.save writes)");
}

}  // namespace

namespace {

// Walks a pickle's opcodes only far enough to check every length it states against the bytes
// left: LibTorch's unpickler reserves a string's stated length before it reads the string.
// Stops at STOP or at an opcode it does not know (LibTorch refuses those itself).
void checkPickleLengths(const unsigned char* data, std::size_t size, const std::string& record,
                        const std::string& path) {
    const auto le = [&](std::size_t at, int n) {
        std::uint64_t v = 0;
        for (int i = n; i-- > 0;)
            v = v << 8 | data[at + std::size_t(i)];
        return v;
    };
    std::size_t p = 0;
    while (p < size) {
        const unsigned char op = data[p++];
        int fixed = -1, lengthBytes = 0, lines = 0;
        // Opcodes by the size of their argument, in rows.
        // clang-format off
        switch (op) {
            case 'K': case 'h': case 'q': case 0x80: case 0x82: fixed = 1; break;
            case 'M': case 0x83: fixed = 2; break;
            case 'J': case 'j': case 'r': case 0x84: fixed = 4; break;
            case 'G': case 0x95: fixed = 8; break;
            case 'U': case 'C': case 0x8c: case 0x8a: lengthBytes = 1; break;
            case 'T': case 'X': case 'B': case 0x8b: lengthBytes = 4; break;
            case 0x8d: case 0x8e: case 0x96: lengthBytes = 8; break;
            case 'c': case 'i': lines = 2; break;
            case 'F': case 'I': case 'L': case 'S': case 'V': case 'P': case 'g': case 'p':
                lines = 1;
                break;
            case '.':
                return;
            default:
                if (!std::strchr("(012NRabd}el]ost)uQ", op) && !(op >= 0x81 && op <= 0x98))
                    return;
                fixed = 0;
        }
        // clang-format on
        if (fixed >= 0) {
            // LONG_BINPUT: LibTorch grows its memo table to the index; pickles number their
            // values in order, so an index past the pickle's size is damage.
            if (op == 'r' && p + 4 <= size && le(p, 4) > size)
                throw Error(path, "damaged archive (" + record + " stores value number " +
                                      std::to_string(le(p, 4)) + ", more than it can hold)");
            p += std::size_t(fixed);
        } else if (lines > 0) {
            for (; lines > 0 && p < size; ++p)
                lines -= data[p] == '\n';
        } else {
            if (std::size_t(lengthBytes) > size - std::min(p, size))
                return;  // the data ends here; LibTorch reports that
            const std::uint64_t length = le(p, lengthBytes);
            p += std::size_t(lengthBytes);
            if (length > size - p)
                throw Error(path, "damaged archive (" + record + " states a length of " +
                                      std::to_string(length) + " bytes, more than it holds)");
            p += std::size_t(length);
        }
    }
}

}  // namespace

std::vector<std::string> checkArchiveRecordSizes(const std::string& path) {
    std::vector<std::string> names;
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    if (!in)
        return names;
    const std::uint64_t fileBytes = std::uint64_t(in.tellg());
    const auto readAt = [&](std::uint64_t offset, std::uint64_t n) {
        std::vector<unsigned char> out(std::size_t(std::min(n, fileBytes)));
        in.clear();
        in.seekg(std::streamoff(offset));
        in.read(reinterpret_cast<char*>(out.data()), std::streamsize(out.size()));
        out.resize(std::size_t(in.gcount()));
        return out;
    };
    const auto le = [](const unsigned char* p, int n) {
        std::uint64_t v = 0;
        for (int i = n; i-- > 0;)
            v = v << 8 | p[i];
        return v;
    };
    // The end of central directory record (22 bytes and a comment of up to 64 KiB), found from
    // the end as miniz finds it.
    const std::uint64_t tailBytes = std::min<std::uint64_t>(fileBytes, 22 + 65535);
    const std::vector<unsigned char> tail = readAt(fileBytes - tailBytes, tailBytes);
    if (tail.size() < 22)
        return names;
    std::size_t end = tail.size() - 22;
    while (le(&tail[end], 4) != 0x06054b50) {
        if (end == 0)
            return names;
        --end;
    }
    // Each central directory the archive may be read by: the one the end record names and,
    // where a ZIP64 locator precedes it, the one of the ZIP64 end record (miniz takes whichever
    // it finds valid, so both are checked).
    const auto checkDirectory = [&](std::uint64_t entries, std::uint64_t bytes,
                                    std::uint64_t offset) {
        if (offset > fileBytes || bytes > fileBytes - offset)
            return;
        const std::vector<unsigned char> d = readAt(offset, bytes);
        std::size_t p = 0;
        for (std::uint64_t e = 0; e < entries && p + 46 <= d.size() && le(&d[p], 4) == 0x02014b50;
             ++e) {
            std::uint64_t compressed = le(&d[p + 20], 4), size = le(&d[p + 24], 4);
            const std::size_t extraStart = p + 46 + le(&d[p + 28], 2);
            const std::size_t extraEnd = std::min(d.size(), extraStart + le(&d[p + 30], 2));
            // The ZIP64 extra field (tag 1): 64-bit values for the fields that read 0xFFFFFFFF.
            for (std::size_t x = extraStart; x + 4 <= extraEnd; x += 4 + le(&d[x + 2], 2)) {
                if (le(&d[x], 2) != 1)
                    continue;
                std::size_t v = x + 4;
                const std::size_t fieldEnd = std::min(extraEnd, v + le(&d[x + 2], 2));
                for (std::uint64_t* field : {&size, &compressed}) {
                    if (*field == 0xFFFFFFFF && v + 8 <= fieldEnd) {
                        *field = le(&d[v], 8);
                        v += 8;
                    }
                }
            }
            if (size > fileBytes || compressed > fileBytes)
                throw Error(path, "damaged archive (a record claims " + std::to_string(size) +
                                      " bytes, more than the whole file)");
            // Record names as LibTorch asks for them: without the archive's top folder.
            const std::string name(reinterpret_cast<const char*>(&d[p + 46]),
                                   std::min<std::size_t>(le(&d[p + 28], 2), d.size() - p - 46));
            const std::size_t slash = name.find('/');
            names.push_back(slash == std::string::npos ? name : name.substr(slash + 1));
            p = extraEnd + le(&d[p + 32], 2);
        }
    };
    checkDirectory(le(&tail[end + 10], 2), le(&tail[end + 12], 4), le(&tail[end + 16], 4));
    if (end >= 20 && le(&tail[end - 20], 4) == 0x07064b50) {
        const std::vector<unsigned char> z = readAt(le(&tail[end - 20 + 8], 8), 56);
        if (z.size() == 56 && le(z.data(), 4) == 0x06064b50)
            checkDirectory(le(&z[32], 8), le(&z[40], 8), le(&z[48], 8));
    }
    return names;
}

void checkArchivePickleLengths(const std::string& path,
                               const std::vector<std::string>& recordNames) {
    try {
        caffe2::serialize::PyTorchStreamReader archive(path);
        // The two that opening a module reads, then every other pickle the zip directory
        // lists: LibTorch's own listing fails on a record outside the archive's folder, and
        // the code's .debug_pkl records are unpickled when a damaged code record is reported.
        std::vector<std::string> names{"data.pkl", "constants.pkl"};
        for (const std::string& name : recordNames)
            if (name.size() > 3 && name.compare(name.size() - 3, 3, "pkl") == 0)
                names.push_back(name);
        for (const std::string& name : names) {
            try {
                if (!archive.hasRecord(name))
                    continue;
                auto [record, bytes] = archive.getRecord(name);
                checkPickleLengths(static_cast<const unsigned char*>(record.get()), bytes, name,
                                   path);
            } catch (const c10::Error&) {
                // A record LibTorch cannot read is refused by LibTorch when it is asked for.
            }
        }
    } catch (const c10::Error&) {
        // Not an archive LibTorch can open: the caller's reader says why.
    }
}

const TorchTensorEntry* TorchStateDict::find(const std::string& name) const {
    for (const auto& t : tensors)
        if (t.name == name)
            return &t;
    return nullptr;
}

TorchStateDict readTorchStateDict(const std::string& path, bool withValues) {
    return atBoundary(path, [&] {
        checkSignature(path);
        checkArchiveRecordSizes(path);
        try {
            caffe2::serialize::PyTorchStreamReader archive(path);
            if (archive.hasRecord("constants.pkl"))
                throw Error(path, "a TorchScript archive (torch.jit.save), not a state_dict");
            if (!archive.hasRecord("data.pkl"))
                throw Error(path, "a zip archive without data.pkl, not a torch.save file");
            if (archive.hasRecord("byteorder")) {
                auto [order, bytes] = archive.getRecord("byteorder");
                const std::string text(static_cast<const char*>(order.get()), bytes);
                if (text != "little")
                    throw Error(path, "stored " + text + "-endian, which ConvScope does not read");
            }
            auto [pickle, size] = archive.getRecord("data.pkl");
            StateDictReader reader(archive, path, withValues);
            const PickleRef root = unpickle(static_cast<const std::uint8_t*>(pickle.get()), size,
                                            reader.hooks(), path);
            const PickleValue& dict = stateDictIn(*root, path);
            TorchStateDict out;
            for (const auto& [key, value] : dict.entries) {
                if (key->kind != Kind::String || !isTensor(*value))
                    continue;
                TorchTensorEntry entry = std::any_cast<const TorchTensorEntry&>(value->object);
                entry.name = key->text;
                out.tensors.push_back(std::move(entry));
            }
            bool allPrefixed = true;
            for (const auto& t : out.tensors)
                allPrefixed = allPrefixed && t.name.rfind("module.", 0) == 0;
            if (allPrefixed)
                for (auto& t : out.tensors)
                    t.name.erase(0, 7);
            return out;
        } catch (const c10::Error& e) {
            throw Error(path, std::string("damaged or truncated PyTorch archive (") +
                                  e.what_without_backtrace() + ")");
        }
    });
}

}  // namespace convscope
