// export: a trained network as an ONNX model.
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/jsontext.h"
#include "cli/modeloptions.h"

#include "io/onnxexport.h"
#include "util/text.h"

#include <cstdio>
#include <iostream>

namespace convscope::cli {

namespace {

Preprocessing preprocessingNamed(const std::string& name) {
    if (name == "rescale")
        return rescalePreprocessing();
    if (name == "tf")
        return tfPreprocessing();
    if (name == "caffe")
        return caffePreprocessing();
    if (name == "torchvision")
        return torchvisionPreprocessing();
    throw UsageError("--preprocessing must be rescale, tf, caffe or torchvision");
}

std::string dimsText(const OnnxModelInfo::Tensor& t) {
    std::string text = "[";
    for (std::size_t i = 0; i < t.dims.size(); ++i)
        text += (i ? ", " : "") + t.dims[i];
    return text + "]";
}

}  // namespace

int exportCommand(const std::vector<std::string>& argv) {
    const Args args(argv,
                    {"onnx", "keras-model", "preprocessing", "arch", "size", "classes", "labels",
                     "head", "flavour", "kernel-layout"},
                    {"softmax", "json"});
    const auto out = args.value("onnx");
    if (!out)
        throw UsageError("export needs --onnx OUT.onnx");
    OnnxExportOptions options;
    options.softmax = args.flag("softmax");
    options.kernelLayout = kernelLayoutFromArgs(args);
    OnnxModelInfo info;
    if (const auto kerasModel = args.value("keras-model")) {
        if (args.positionals().size() > 1)
            throw UsageError("export --keras-model takes at most one weights file");
        for (const char* option : {"arch", "head", "flavour", "kernel-layout"})
            if (args.value(option))
                throw UsageError(std::string("--") + option +
                                 " does not apply to --keras-model (the model file says)");
        KerasOnnxSource source;
        source.modelPath = *kerasModel;
        if (!args.positionals().empty())
            source.weightsPath = args.positionals()[0];
        source.preprocessing = preprocessingNamed(args.text("preprocessing", "rescale"));
        if (const auto fallback = fallbackMetadata(args)) {
            source.classNames = fallback->classNames;
            source.inputSize = fallback->model.inputSize;
        }
        info = exportKerasOnnx(source, *out, options);
    } else {
        if (args.positionals().size() != 1)
            throw UsageError("export takes one weights file");
        if (args.value("preprocessing"))
            throw UsageError("--preprocessing applies to --keras-model (weight files say theirs)");
        info = exportOnnx(args.positionals()[0], *out, fallbackMetadata(args), options);
    }
    if (args.flag("json")) {
        nlohmann::json tensors = nlohmann::json::object();
        for (const auto* list : {&info.inputs, &info.outputs})
            for (const auto& t : *list)
                tensors[t.name] = t.dims;
        nlohmann::json metadata = nlohmann::json::object();
        for (const auto& [key, value] : info.metadata)
            metadata[key] = nlohmann::json::parse(value);
        std::cout << jsonText(nlohmann::json{{"path", escapeInvalidUtf8(info.path)},
                                             {"opset", info.opset},
                                             {"ir_version", info.irVersion},
                                             {"tensors", tensors},
                                             {"nodes", info.nodes},
                                             {"parameters", info.parameters},
                                             {"bytes", info.bytes},
                                             {"metadata", metadata}})
                  << std::endl;
        return 0;
    }
    std::printf("%s: ONNX opset %lld, %lld nodes, %lld parameters, %.1f MB\n",
                escapeInvalidUtf8(info.path).c_str(), (long long)info.opset, (long long)info.nodes,
                (long long)info.parameters, double(info.bytes) / 1e6);
    for (const auto& t : info.inputs)
        std::printf("  input  %s %s\n", t.name.c_str(), dimsText(t).c_str());
    for (const auto& t : info.outputs)
        std::printf("  output %s %s\n", t.name.c_str(), dimsText(t).c_str());
    for (const char* key : {"class_names", "preprocessing", "softmax_applied"})
        if (const auto it = info.metadata.find(key); it != info.metadata.end())
            std::printf("  %s: %s\n", key, escapeInvalidUtf8(it->second).c_str());
    return 0;
}

}  // namespace convscope::cli
