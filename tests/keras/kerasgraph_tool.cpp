// ConvScope's side of tests/keras/compare_keras.py: builds a network from a Keras model config,
// loads its weights, runs raw float32 NHWC inputs and writes each output (and each tapped
// layer's output) as raw float32 in Keras's layout (channels last).
//
//   kerasgraph_tool --model model.json [--weights w.h5] --input x.bin --shape N,H,W,C
//                   --output prefix [--tap layer]...
//
// Writes prefix + "output<i>.bin" and prefix + "<layer>.bin", and prints one JSON line with
// their shapes. Exits 1 with the error on stderr.
#include "error.h"
#include "models/kerasgraph.h"

#include <torch/torch.h>

#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

using namespace convscope;

namespace {

std::vector<std::int64_t> parseShape(const std::string& text) {
    std::vector<std::int64_t> shape;
    std::stringstream in(text);
    std::string part;
    while (std::getline(in, part, ','))
        shape.push_back(std::stoll(part));
    return shape;
}

torch::Tensor readInput(const std::string& path, const std::vector<std::int64_t>& shape) {
    std::int64_t count = 1;
    for (std::int64_t d : shape)
        count *= d;
    std::vector<float> values(std::size_t(count), 0.f);
    std::ifstream in(path, std::ios::binary);
    in.read(reinterpret_cast<char*>(values.data()), std::streamsize(count * 4));
    if (in.gcount() != count * 4)
        throw Error(path, "holds fewer values than the shape asks for");
    torch::Tensor x = torch::from_blob(values.data(), shape, torch::kFloat32).clone();
    return x.dim() == 4 ? x.permute({0, 3, 1, 2}).contiguous() : x;
}

/// Writes `t` channels last and returns its shape as JSON text.
std::string writeOutput(const std::string& path, torch::Tensor t) {
    if (t.dim() == 4)
        t = t.permute({0, 2, 3, 1});
    t = t.contiguous().to(torch::kFloat32);
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(t.data_ptr<float>()), std::streamsize(t.numel() * 4));
    std::string shape = "[";
    for (std::int64_t d = 0; d < t.dim(); ++d)
        shape += (d ? ", " : "") + std::to_string(t.size(d));
    return shape + "]";
}

}  // namespace

int main(int argc, char** argv) {
    std::map<std::string, std::string> options;
    std::set<std::string> taps;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string key = argv[i];
        if (key == "--tap")
            taps.insert(argv[i + 1]);
        else
            options[key] = argv[i + 1];
    }
    for (const char* required : {"--model", "--input", "--shape", "--output"})
        if (!options.count(required)) {
            std::cerr << "usage: kerasgraph_tool --model model.json [--weights w.h5] --input x.bin "
                         "--shape N,H,W,C --output prefix [--tap layer]...\n";
            return 2;
        }
    try {
        KerasGraph graph = loadKerasGraph(options["--model"], options["--weights"]);
        torch::NoGradGuard noGrad;
        const torch::Tensor x = readInput(options["--input"], parseShape(options["--shape"]));
        std::map<std::string, torch::Tensor> tapped;
        const LayerTap tap = [&](const std::string& layer, const torch::Tensor& output) {
            if (taps.count(layer))
                tapped[layer] = output;
        };
        const std::vector<torch::Tensor> outputs = graph->forwardAll({x}, &tap);
        const std::string& prefix = options["--output"];
        std::string json = "{\"outputs\": [";
        for (std::size_t i = 0; i < outputs.size(); ++i)
            json += (i ? ", " : "") +
                    writeOutput(prefix + "output" + std::to_string(i) + ".bin", outputs[i]);
        json += "], \"taps\": {";
        bool first = true;
        for (const auto& [layer, t] : tapped) {
            json +=
                (first ? "\"" : ", \"") + layer + "\": " + writeOutput(prefix + layer + ".bin", t);
            first = false;
        }
        std::cout << json << "}}\n";
    } catch (const std::exception& e) {
        std::cerr << e.what() << "\n";
        return 1;
    }
    return 0;
}
