// Test helper for the Keras / TF.js import tests (Python): imports a backbone the way
// `convscope train --weights` does and writes what Python needs to check it.
//   keras_import_tool features MODEL (--image FILE | --input FILE.f32) LAYER OUT_DIR
//       prints the load report as JSON; writes OUT_DIR/input.f32 (the network input, NHWC)
//       and OUT_DIR/features.f32 (LAYER's output, NHWC) plus OUT_DIR/shape.json
//   keras_import_tool weight MODEL.json TFJS_NAME OUT.f32
//       the dequantized values of one TF.js weight, as read
// Errors go to stderr as "error: <message>" with exit code 1.

#include "data/imagedecoder.h"
#include "error.h"
#include "io/kerasimport.h"
#include "io/modelweights.h"
#include "io/tfjsmodel.h"

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <torch/torch.h>

#include <fstream>
#include <iostream>

using namespace convscope;

namespace {

void writeFloats(const std::string& path, const torch::Tensor& t) {
    const torch::Tensor c = t.contiguous().to(torch::kFloat32);
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(c.data_ptr<float>()),
              std::streamsize(c.numel() * sizeof(float)));
}

int features(const std::vector<std::string>& args) {
    const std::string& modelPath = args[0];
    const std::string& inputKind = args[1];
    const std::string& inputPath = args[2];
    const std::string& layer = args[3];
    const std::string& outDir = args[4];
    const KerasImport imported = readKerasImport(modelPath);
    ModelConfig config;
    config.architecture = imported.architecture;
    config.flavour = imported.flavour;
    config.head = Head::GlobalAveragePool;
    config.classCount = 3;
    config.inputSize = imported.inputSize > 0 ? imported.inputSize : 32;
    const Classifier model = makeClassifier(config);
    const LoadReport report = loadBackboneWeights(imported.weights, modelPath, *model);

    const int s = config.inputSize;
    torch::Tensor nhwc;
    if (inputKind == "--image") {
        DecodeOptions decode;
        decode.width = decode.height = s;
        const cv::Mat rgb = decodeImageFile(inputPath, decode);
        const Preprocessing& p = imported.preprocessing;
        nhwc = torch::empty({1, s, s, 3});
        float* out = nhwc.data_ptr<float>();
        for (int y = 0; y < s; ++y)
            for (int x = 0; x < s; ++x)
                for (int c = 0; c < 3; ++c) {
                    const int source = p.bgr ? 2 - c : c;
                    *out++ = (rgb.ptr<std::uint8_t>(y)[3 * x + source] * p.rescale -
                              p.mean[std::size_t(c)]) /
                             p.stddev[std::size_t(c)];
                }
    } else {
        std::ifstream in(inputPath, std::ios::binary);
        nhwc = torch::empty({1, s, s, 3});
        in.read(reinterpret_cast<char*>(nhwc.data_ptr<float>()),
                std::streamsize(nhwc.numel() * sizeof(float)));
        if (!in)
            throw Error(inputPath, "shorter than a " + std::to_string(s) + "x" + std::to_string(s) +
                                       "x3 float32 input");
    }
    torch::Tensor tapped;
    const LayerTap tap = [&](const std::string& name, const torch::Tensor& t) {
        if (name == layer)
            tapped = t.clone();
    };
    model->eval();
    {
        torch::NoGradGuard noGrad;
        model->forward(nhwc.permute({0, 3, 1, 2}).contiguous(), &tap);
    }
    if (!tapped.defined())
        throw Error(layer, "no such layer");
    if (tapped.dim() == 4)
        tapped = tapped.permute({0, 2, 3, 1});
    writeFloats(outDir + "/input.f32", nhwc);
    writeFloats(outDir + "/features.f32", tapped);
    std::ofstream(outDir + "/shape.json") << nlohmann::json(tapped.sizes().vec()).dump();
    std::cout << nlohmann::json{{"description", imported.description},
                                {"architecture", architectureName(config.architecture)},
                                {"flavour", flavourName(config.flavour)},
                                {"input_size", s},
                                {"preprocessing",
                                 {{"name", imported.preprocessing.name},
                                  {"rescale", imported.preprocessing.rescale},
                                  {"mean", imported.preprocessing.mean},
                                  {"std", imported.preprocessing.stddev},
                                  {"bgr", imported.preprocessing.bgr}}},
                                {"loaded", report.loaded},
                                {"not_in_model", report.notInModel},
                                {"not_in_file", report.notInFile},
                                {"report", describe(report)}}
                     .dump()
              << std::endl;
    return 0;
}

int weight(const std::vector<std::string>& args) {
    const TfjsModel model = readTfjsModel(args[0]);
    for (const LayerWeights& layer : model.weights.layers)
        for (const WeightArray& a : layer.weights)
            if (a.storedName == args[1]) {
                std::ofstream out(args[2], std::ios::binary);
                out.write(reinterpret_cast<const char*>(a.values.data()),
                          std::streamsize(a.values.size() * sizeof(float)));
                return 0;
            }
    throw Error(args[1], "no such weight");
}

}  // namespace

int main(int argc, char** argv) {
    const std::vector<std::string> args(argv + 1, argv + argc);
    try {
        if (args.size() == 6 && args[0] == "features")
            return features({args.begin() + 1, args.end()});
        if (args.size() == 4 && args[0] == "weight")
            return weight({args.begin() + 1, args.end()});
        std::cerr << "usage: keras_import_tool features MODEL --image|--input FILE LAYER OUT_DIR\n"
                     "       keras_import_tool weight MODEL.json NAME OUT.f32\n";
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "error: " << e.what() << "\n";
        return 1;
    }
}
