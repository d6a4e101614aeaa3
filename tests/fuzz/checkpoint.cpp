// The training checkpoint reader (a LibTorch archive: weights, buffers, optimizer moments, RNG
// state and the training state as JSON) on arbitrary bytes, loaded into a tiny network (a batch
// norm and a dense layer) with Adam. With CONVSCOPE_FUZZ_WRITE_SEEDS=DIR set, the binary writes
// its seed checkpoints into DIR instead and exits (tests/fuzz/make_corpus.py asks it to).
#include "train/checkpoint.h"

#include "error.h"
#include "fuzzinput.h"

#include <caffe2/serialize/inline_container.h>
#include <torch/torch.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace {

using namespace convscope;

class TinyNetImpl : public ClassifierImpl {
public:
    TinyNetImpl() : ClassifierImpl(ModelConfig{}) {
        bn = register_module("bn", torch::nn::BatchNorm1d(2));
        dense = register_module("dense", torch::nn::Linear(2, 2));
    }
    torch::Tensor forwardFeatures(torch::Tensor x, const LayerTap*) override { return bn(x); }
    torch::Tensor forwardHead(torch::Tensor features, const LayerTap*) override {
        return dense(features);
    }

    torch::nn::BatchNorm1d bn{nullptr};
    torch::nn::Linear dense{nullptr};
};
TORCH_MODULE(TinyNet);

void writeSeeds(const std::string& folder) {
    std::filesystem::create_directories(folder);
    torch::manual_seed(1);
    TinyNet net;
    torch::optim::Adam adam(net->parameters(), torch::optim::AdamOptions(1e-3));
    TrainingState state;
    saveCheckpoint(folder + "/fresh.pt", *net, adam, state);

    const torch::Tensor x = torch::rand({4, 2});
    const torch::Tensor y = torch::tensor({0, 1, 1, 0});
    for (int epoch = 1; epoch <= 2; ++epoch) {
        adam.zero_grad();
        torch::nn::functional::cross_entropy(net->forward(x), y).backward();
        adam.step();
        EpochEnd e;
        e.epoch = epoch;
        e.trainLoss = 0.7 / epoch;
        e.trainAccuracy = 0.5;
        e.validationLoss = 0.8 / epoch;
        e.validationAccuracy = 0.5;
        e.learningRate = 1e-3;
        e.seconds = 0.25;
        state.history.push_back(e);
    }
    state.epochsCompleted = 2;
    state.learningRate = 1e-3;
    state.bestValidationLoss = 0.4;
    state.epochsSinceBest = 0;
    saveCheckpoint(folder + "/trained.pt", *net, adam, state);

    TinyNet other;
    torch::optim::SGD sgd(other->parameters(), torch::optim::SGDOptions(0.01).momentum(0.9));
    saveCheckpoint(folder + "/sgd.pt", *other, sgd, TrainingState{});
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    torch::set_num_threads(1);
    if (const char* folder = std::getenv("CONVSCOPE_FUZZ_WRITE_SEEDS")) {
        writeSeeds(folder);
        std::printf("seed checkpoints written to %s\n", folder);
        std::exit(0);
    }
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string path = fuzz::writeScratchFile("checkpoint.pt", data, size);
    TinyNet net;
    torch::optim::Adam adam(net->parameters(), torch::optim::AdamOptions(1e-3));
    try {
        loadCheckpoint(path, *net, adam);
    } catch (const Error& e) {
        if (e.subject() != path || e.reason().empty())
            std::abort();
    }
    return 0;
}

#ifdef CONVSCOPE_LIBFUZZER
extern "C" std::size_t LLVMFuzzerMutate(std::uint8_t* data, std::size_t size, std::size_t maxSize);

// A checkpoint is a zip archive whose records carry CRC-32s: a byte changed inside a record
// makes LibTorch refuse the file before reading it. So every other mutation changes one
// record's contents and writes the archive again with fresh checksums; the rest mutate the raw
// bytes (headers, sizes, the directory). Only libFuzzer calls this; replay has no mutations.
extern "C" std::size_t LLVMFuzzerCustomMutator(std::uint8_t* data, std::size_t size,
                                               std::size_t maxSize, unsigned int seed) {
    if (seed % 2 == 0)
        return LLVMFuzzerMutate(data, size, maxSize);
    try {
        std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
        caffe2::serialize::PyTorchStreamReader reader(&in);
        std::vector<std::string> names = reader.getAllRecords();
        std::erase(names, ".data/serialization_id");  // the writer adds its own
        if (names.empty())
            return LLVMFuzzerMutate(data, size, maxSize);
        const std::string& chosen = names[(seed / 2) % names.size()];
        std::string out;
        caffe2::serialize::PyTorchStreamWriter writer([&](const void* p, std::size_t n) {
            out.append(static_cast<const char*>(p), n);
            return n;
        });
        // getRecord allocates a record's stated size: a mutated directory may state 4 GB.
        for (const std::string& name : names)
            if (reader.getRecordSize(name) > size)
                return LLVMFuzzerMutate(data, size, maxSize);
        for (const std::string& name : names) {
            auto [record, bytes] = reader.getRecord(name);
            const auto* begin = static_cast<const std::uint8_t*>(record.get());
            std::vector<std::uint8_t> contents(begin, begin + bytes);
            if (name == chosen) {
                contents.resize(2 * bytes + 64);
                contents.resize(LLVMFuzzerMutate(contents.data(), bytes, contents.size()));
            }
            writer.writeRecord(name, contents.data(), contents.size());
        }
        writer.writeEndOfFile();
        if (out.size() > maxSize)
            return LLVMFuzzerMutate(data, size, maxSize);
        std::memcpy(data, out.data(), out.size());
        return out.size();
    } catch (const std::exception&) {  // not an archive (any more): mutate the bytes
        return LLVMFuzzerMutate(data, size, maxSize);
    }
}
#endif
