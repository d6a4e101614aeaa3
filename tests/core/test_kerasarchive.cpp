// Keras 3 .keras archives (io/kerasarchive.h): zip files written here, stored as Keras writes
// them and deflated as other zip tools may, then damaged.
#include "error.h"
#include "io/kerasarchive.h"
#include "io/kerasweights.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

using namespace convscope;
namespace fs = std::filesystem;

namespace {

struct ZipEntry {
    std::string name;
    std::string data;
};

void put16(std::string& s, std::uint16_t v) {
    s += char(v & 0xff);
    s += char(v >> 8);
}

void put32(std::string& s, std::uint32_t v) {
    for (int i = 0; i < 4; ++i)
        s += char((v >> (8 * i)) & 0xff);
}

std::string deflated(const std::string& data) {
    std::string out(compressBound(uLong(data.size())) + 64, '\0');
    z_stream z{};
    deflateInit2(&z, 6, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    z.avail_in = uInt(data.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = uInt(out.size());
    deflate(&z, Z_FINISH);
    out.resize(z.total_out);
    deflateEnd(&z);
    return out;
}

/// A zip archive of `entries`, each stored (method 0) or deflated (8).
std::string zipOf(const std::vector<ZipEntry>& entries, std::uint16_t method) {
    std::string body, directory;
    for (const ZipEntry& e : entries) {
        const std::string stored = method == 8 ? deflated(e.data) : e.data;
        const auto crc = std::uint32_t(
            crc32(0, reinterpret_cast<const Bytef*>(e.data.data()), uInt(e.data.size())));
        const auto offset = std::uint32_t(body.size());
        put32(body, 0x04034b50);
        put16(body, 20), put16(body, 0), put16(body, method), put16(body, 0), put16(body, 0);
        put32(body, crc), put32(body, std::uint32_t(stored.size()));
        put32(body, std::uint32_t(e.data.size()));
        put16(body, std::uint16_t(e.name.size())), put16(body, 0);
        body += e.name + stored;
        put32(directory, 0x02014b50);
        put16(directory, 20), put16(directory, 20), put16(directory, 0), put16(directory, method);
        put16(directory, 0), put16(directory, 0);
        put32(directory, crc), put32(directory, std::uint32_t(stored.size()));
        put32(directory, std::uint32_t(e.data.size()));
        put16(directory, std::uint16_t(e.name.size())), put16(directory, 0), put16(directory, 0);
        put16(directory, 0), put16(directory, 0), put32(directory, 0), put32(directory, offset);
        directory += e.name;
    }
    std::string end;
    put32(end, 0x06054b50);
    put16(end, 0), put16(end, 0), put16(end, std::uint16_t(entries.size()));
    put16(end, std::uint16_t(entries.size()));
    put32(end, std::uint32_t(directory.size())), put32(end, std::uint32_t(body.size()));
    put16(end, 0);
    return body + directory + end;
}

class KerasArchiveTest : public ::testing::Test {
protected:
    void SetUp() override {
        m_dir = fs::temp_directory_path() / ("convscope-archive-" + std::to_string(::getpid()));
        fs::create_directories(m_dir);
        KerasWeightsFile file;
        LayerWeights dense{"dense",
                           {WeightArray{"kernel:0", {}, {2, 3}, {1, 2, 3, 4, 5, 6}},
                            WeightArray{"bias:0", {}, {3}, {7, 8, 9}}}};
        file.layers.push_back(dense);
        const std::string h5 = (m_dir / "w.h5").string();
        writeKerasWeights(h5, file);
        std::ifstream in(h5, std::ios::binary);
        m_weights.assign(std::istreambuf_iterator<char>(in), {});
    }
    void TearDown() override { fs::remove_all(m_dir); }

    std::string write(const std::string& name, const std::string& bytes) {
        const std::string path = (m_dir / name).string();
        std::ofstream(path, std::ios::binary) << bytes;
        return path;
    }

    std::vector<ZipEntry> entries() const {
        return {{"metadata.json", R"({"keras_version": "3.15.1"})"},
                {"config.json", R"({"class_name": "Sequential", "config": {"layers": []}})"},
                {"model.weights.h5", m_weights}};
    }

    fs::path m_dir;
    std::string m_weights;
};

}  // namespace

TEST_F(KerasArchiveTest, storedAndDeflatedArchivesGiveConfigVersionAndWeights) {
    for (std::uint16_t method : {0, 8}) {
        const std::string path =
            write("m" + std::to_string(method) + ".keras", zipOf(entries(), method));
        ASSERT_TRUE(isKerasArchive(path));
        const KerasArchive a = readKerasArchive(path);
        EXPECT_NE(a.modelConfig.find("Sequential"), std::string::npos);
        EXPECT_EQ(a.kerasVersion, "3.15.1");
        ASSERT_EQ(a.weights.layers.size(), 1u);
        EXPECT_EQ(a.weights.layers[0].weights[1].values, (std::vector<float>{7, 8, 9}));
    }
}

TEST_F(KerasArchiveTest, damagedOrIncompleteArchivesAreRefusedWithTheReason) {
    const std::string whole = zipOf(entries(), 0);
    auto refused = [&](const std::string& name, const std::string& bytes, const char* part) {
        const std::string path = write(name, bytes);
        EXPECT_FALSE(std::string(part) == "has no" && isKerasArchive(path));
        try {
            readKerasArchive(path);
            ADD_FAILURE() << name << " was read";
        } catch (const Error& e) {
            EXPECT_EQ(e.subject(), path);
            EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
        }
    };
    refused("cut.keras", whole.substr(0, whole.size() / 2), "zip archive");
    refused("empty.keras", "", "zip archive");
    std::vector<ZipEntry> noWeights = entries();
    noWeights.pop_back();
    refused("noweights.keras", zipOf(noWeights, 0), "has no model.weights.h5");
    std::vector<ZipEntry> badWeights = entries();
    badWeights.back().data = "not hdf5";
    refused("badweights.keras", zipOf(badWeights, 0), "model.weights.h5:");
    for (std::uint16_t method : {0, 8}) {
        std::string corrupt = zipOf(entries(), method);
        const std::size_t inWeights = corrupt.find("model.weights.h5") + 16 + 100;
        corrupt[inWeights] = char(corrupt[inWeights] ^ 0x5a);
        refused("corrupt" + std::to_string(method) + ".keras", corrupt, "damaged zip archive");
    }
}
