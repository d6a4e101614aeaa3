#include "io/hdf5heaps.h"

#include "error.h"

#include <cstring>
#include <fstream>
#include <vector>

namespace convscope {

namespace {

// A conversion that leaves a variable-length string's stored form (length, heap address, object
// index) as it is, so that checkHeapReferences can read it without HDF5 following it.
herr_t keepStoredBytes(hid_t from, hid_t to, H5T_cdata_t* cdata, size_t, size_t, size_t, void*,
                       void*, hid_t) {
    if (cdata->command != H5T_CONV_INIT)
        return 0;
    cdata->need_bkg = H5T_BKG_NO;
    const bool fits = H5Tget_class(from) == H5T_STRING && H5Tis_variable_str(from) > 0 &&
                      H5Tget_class(to) == H5T_OPAQUE && H5Tget_size(from) == H5Tget_size(to);
    return fits ? 0 : -1;
}

}  // namespace

// HDF5 1.10.8 reads whatever heap object a variable-length string names without checking it:
// an index past the collection's end crashes it, an object longer than the string overruns the
// string's buffer. So each string's reference is read as stored and checked first.
void checkHeapReferences(const H5::Attribute& a, const GlobalHeaps& heaps, std::uint64_t count,
                         const std::string& path, const std::string& what) {
    static const bool registered = [] {
        const H5::StrType from(H5::PredType::C_S1, H5T_VARIABLE);
        const hid_t to = H5Tcreate(H5T_OPAQUE, 1);
        const bool ok = H5Tregister(H5T_PERS_SOFT, "convscope: stored variable-length strings",
                                    from.getId(), to, keepStoredBytes) >= 0;
        H5Tclose(to);
        return ok;
    }();
    const std::size_t elementBytes = 4 + heaps.offsetBytes + 4;
    std::vector<unsigned char> stored(std::size_t(count) * elementBytes);
    const hid_t raw = H5Tcreate(H5T_OPAQUE, elementBytes);
    H5Tset_tag(raw, "convscope: stored variable-length string");
    const herr_t status = registered ? H5Aread(a.getId(), raw, stored.data()) : -1;
    H5Tclose(raw);
    if (status < 0)
        throw Error(path, what + ": cannot read its strings' storage");
    const auto le = [](const unsigned char* p, std::size_t n) {
        std::uint64_t v = 0;
        for (std::size_t i = n; i-- > 0;)
            v = v << 8 | p[i];
        return v;
    };
    for (std::size_t i = 0; i < stored.size(); i += elementBytes) {
        const std::uint64_t length = le(&stored[i], 4);
        const std::uint64_t address = le(&stored[i + 4], heaps.offsetBytes);
        const std::uint64_t index = le(&stored[i + 4 + heaps.offsetBytes], 4);
        if (address == 0)
            continue;  // a null string
        const auto heap = heaps.objects.find(address);
        const bool found = heap != heaps.objects.end() && index > 0 && heap->second.count(index);
        if (!found || heap->second.at(index) > length)
            throw Error(path, what + ": a string names storage the file lacks (damaged file)");
    }
}

// HDF5 (1.10.8, and 2.0 still) loops forever reading a global heap collection whose free-space
// object (index 0) has size 0: its deserializer steps from object to object by their sizes.
// Variable-length strings live in those collections ("GCOL"), so each collection of the file
// is walked here the same way first, and one that would not reach its end is refused. The
// objects found are what checkHeapReferences checks strings against. `base` is the file's base
// address (its user block), from which HDF5 counts addresses.
GlobalHeaps readGlobalHeaps(const std::string& path, std::uint64_t maxHeapBytes,
                            std::size_t offsetBytes, std::size_t lengthBytes, std::uint64_t base) {
    if (lengthBytes == 0 || lengthBytes > 8 || offsetBytes == 0 || offsetBytes > 8)
        throw Error(path, "damaged HDF5 file (unusual size of offsets or lengths)");
    GlobalHeaps heaps;
    heaps.offsetBytes = offsetBytes;
    const std::size_t headerBytes = 8 + lengthBytes;  // also the size of an object's header
    const auto decodeLength = [&](const unsigned char* p) {
        std::uint64_t v = 0;
        for (std::size_t i = lengthBytes; i-- > 0;)
            v = (v << 8) | p[i];
        return v;
    };
    std::ifstream in(path, std::ios::binary);
    std::vector<unsigned char> chunk(std::size_t(1) << 20);
    std::vector<unsigned char> heap;
    for (std::uint64_t chunkStart = 0;;) {
        in.clear();
        in.seekg(std::streamoff(chunkStart));
        in.read(reinterpret_cast<char*>(chunk.data()), std::streamsize(chunk.size()));
        const std::size_t got = std::size_t(in.gcount());
        for (std::size_t i = 0; i + 4 <= got; ++i) {
            if (std::memcmp(chunk.data() + i, "GCOL", 4) != 0)
                continue;
            heap.assign(headerBytes, 0);
            in.clear();
            in.seekg(std::streamoff(chunkStart + i));
            if (!in.read(reinterpret_cast<char*>(heap.data()), std::streamsize(headerBytes)))
                continue;
            const std::uint64_t size = decodeLength(heap.data() + 8);
            if (size <= headerBytes || size > maxHeapBytes)
                continue;  // HDF5 refuses these itself
            heap.resize(std::size_t(size));
            in.read(reinterpret_cast<char*>(heap.data() + headerBytes),
                    std::streamsize(size - headerBytes));
            if (std::uint64_t(in.gcount()) != size - headerBytes)
                continue;  // runs past the end of the file: HDF5's read fails
            const std::uint64_t at = chunkStart + i;
            auto& objects = heaps.objects[at >= base ? at - base : ~std::uint64_t(0)];
            for (std::uint64_t p = headerBytes; p + headerBytes <= size;) {
                const unsigned index = heap[p] | heap[p + 1] << 8;
                const std::uint64_t objectSize = decodeLength(heap.data() + p + 8);
                const std::uint64_t need =
                    index > 0 ? headerBytes + (objectSize + 7) / 8 * 8 : objectSize;
                if (need == 0 || need > size - p || need < objectSize)
                    throw Error(path, "damaged HDF5 file (the global heap at byte " +
                                          std::to_string(chunkStart + i) +
                                          " holds an object of impossible size)");
                if (index > 0)
                    objects[index] = objectSize;
                p += need;
            }
        }
        if (got < chunk.size())
            return heaps;
        chunkStart += got - 3;  // a signature across the boundary is found in the next chunk
    }
}

}  // namespace convscope
