#include "io/onnxexport.h"

#include "error.h"
#include "inspect/modelinput.h"
#include "io/kerasweights.h"
#include "io/onnxgraph.h"
#include "io/tfjsmodel.h"
#include "models/kerasgraph.h"
#include "runtime.h"
#include "util/atomicfile.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>

namespace convscope {

namespace {

using nlohmann::json;
using onnxgraph::GraphBuilder;
using onnxgraph::Value;

json preprocessingJson(const Preprocessing& p) {
    const auto triple = [](const std::array<float, 3>& v) {
        return json::array({double(v[0]), double(v[1]), double(v[2])});
    };
    return json{
        {"name", p.name},
        {"input_layout", "NCHW"},
        {"channel_order", p.bgr ? "BGR" : "RGB"},
        {"rescale", double(p.rescale)},
        {"mean", triple(p.mean)},
        {"std", triple(p.stddev)},
        {"formula",
         "input[c] = (pixel[channel_order[c]] * rescale - mean[c]) / std[c], pixels 0..255"}};
}

/// JSON text that stays valid for names that are not UTF-8 (Latin-1 folder names).
std::string text(const json& value) {
    return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string listed(const std::vector<std::string>& names) {
    std::string text;
    for (std::size_t i = 0; i < names.size() && i < 6; ++i)
        text += (i ? ", " : "") + names[i];
    if (names.size() > 6)
        text += ", ... (" + std::to_string(names.size()) + " in all)";
    return text;
}

/// The ONNX model written to `path` so that a crash leaves the old file or the whole new one.
std::uint64_t writeModel(const onnx::ModelProto& model, const std::string& path) {
    replaceFileAtomically(path, [&](const std::string& temp) {
        std::ofstream out(temp, std::ios::binary | std::ios::trunc);
        if (!out || !model.SerializeToOstream(&out) || !out.flush())
            throw Error(path, "cannot write the ONNX model");
    });
    return std::filesystem::file_size(path);
}

OnnxModelInfo describe(const onnx::ModelProto& model, const std::string& path) {
    OnnxModelInfo info;
    info.path = path;
    info.irVersion = model.ir_version();
    for (const auto& opset : model.opset_import())
        if (opset.domain().empty() || opset.domain() == "ai.onnx")
            info.opset = opset.version();
    info.producer = model.producer_name() + " " + model.producer_version();
    const auto tensors = [](const auto& values) {
        std::vector<OnnxModelInfo::Tensor> out;
        for (const onnx::ValueInfoProto& v : values) {
            OnnxModelInfo::Tensor t{v.name(), {}};
            for (const auto& d : v.type().tensor_type().shape().dim())
                t.dims.push_back(d.has_dim_param() ? d.dim_param() : std::to_string(d.dim_value()));
            out.push_back(std::move(t));
        }
        return out;
    };
    info.inputs = tensors(model.graph().input());
    info.outputs = tensors(model.graph().output());
    for (const auto& prop : model.metadata_props())
        info.metadata[prop.key()] = prop.value();
    info.nodes = model.graph().node_size();
    for (const onnx::TensorProto& t : model.graph().initializer()) {
        if (t.data_type() != onnx::TensorProto::FLOAT || t.name().rfind("const/", 0) == 0)
            continue;
        std::int64_t count = 1;
        for (std::int64_t d : t.dims())
            count *= d;
        info.parameters += count;
    }
    return info;
}

std::string shapeText(const std::vector<std::int64_t>& shape) {
    std::string text;
    for (std::size_t i = 0; i < shape.size(); ++i) {
        if (i)
            text += 'x';
        text += std::to_string(shape[i]);
    }
    return text;
}

OnnxModelInfo finishAndWrite(GraphBuilder& graph, const std::map<std::string, std::string>& meta,
                             const std::string& doc, const std::string& outPath) {
    const onnx::ModelProto model =
        atBoundary(graph.subject(), [&] { return graph.finish(meta, doc); });
    return atBoundary(outPath, [&] {
        OnnxModelInfo info = describe(model, outPath);
        info.bytes = writeModel(model, outPath);
        return info;
    });
}

/// Checked before any work: the file's folder must be there.
void checkDestination(const std::string& outPath) {
    const std::filesystem::path folder =
        std::filesystem::absolute(std::filesystem::path(outPath)).parent_path();
    std::error_code error;
    if (!std::filesystem::is_directory(folder, error))
        throw Error(outPath,
                    "cannot be written: its folder " + folder.string() + " does not exist");
}

/// Keras's input of open height and width fixed at `size`; a fixed one must agree.
void fixInputSize(KerasModelConfig& config, int size, const std::string& source) {
    for (const KerasTensorRef& ref : config.inputs) {
        for (KerasLayer& l : config.layers) {
            if (l.name != ref.layer || l.type != KerasLayerType::Input || l.inputShape.size() != 3)
                continue;
            auto& s = l.inputShape;  // H, W, C
            const bool open = s[0] < 0 || s[1] < 0;
            if (open && size <= 0)
                throw Error(source, "input '" + l.name +
                                        "' leaves its height and width open: give the input size");
            if (!open && size > 0 && (s[0] != size || s[1] != size))
                throw Error(source, "input '" + l.name + "' is fixed at " + std::to_string(s[0]) +
                                        "x" + std::to_string(s[1]) + ", not " +
                                        std::to_string(size) + "x" + std::to_string(size));
            if (open)
                s[0] = s[1] = size;
        }
    }
}

}  // namespace

OnnxModelInfo exportOnnx(const std::string& weightsPath, const std::string& outPath,
                         const std::optional<WeightsMetadata>& fallback,
                         const OnnxExportOptions& options) {
    atBoundary(outPath, [&] { checkDestination(outPath); });
    WeightsMetadata metadata;
    LoadReport report;
    GraphBuilder graph(weightsPath);
    Value output;
    atBoundary(weightsPath, [&] {
        Classifier model =
            loadForInference(weightsPath, fallback, metadata, &report, options.kernelLayout);
        if (!report.notInFile.empty() || !report.mismatched.empty()) {
            std::vector<std::string> left = report.notInFile;
            left.insert(left.end(), report.mismatched.begin(), report.mismatched.end());
            throw Error(weightsPath, "leaves layers as initialised (" + listed(left) +
                                         "): their weights would be random in the export; "
                                         "train or fine-tune a head for your classes first");
        }
        const int side = metadata.model.inputSize;
        const Value input = graph.input({3, side, side});
        output = onnxgraph::exportClassifier(graph, *model, input);
        if (options.softmax)
            output = graph.softmax(output, "softmax", 0);
        graph.output(output, options.softmax ? "probabilities" : "logits");
    });
    const ModelConfig& m = metadata.model;
    const json model{{"architecture", architectureName(m.architecture)},
                     {"head", headName(m.head)},
                     {"flavour", flavourName(m.flavour)},
                     {"input_size", m.inputSize},
                     {"classes", m.classCount},
                     {"source", std::filesystem::path(weightsPath).filename().string()}};
    const std::map<std::string, std::string> meta{
        {"class_names", text(json(metadata.classNames))},
        {"preprocessing", text(preprocessingJson(metadata.preprocessing))},
        {"softmax_applied", options.softmax ? "true" : "false"},
        {"model", text(model)},
    };
    const std::string doc =
        std::string("ConvScope ") + architectureName(m.architecture) + " (" + headName(m.head) +
        " head, " + flavourName(m.flavour) + " flavour), " + std::to_string(m.inputSize) + "x" +
        std::to_string(m.inputSize) + " RGB input, " + std::to_string(m.classCount) +
        " classes: " + listed(metadata.classNames) +
        ". The input is preprocessed as metadata 'preprocessing' says; the output is " +
        (options.softmax ? "class probabilities." : "logits (no softmax).");
    return finishAndWrite(graph, meta, doc, outPath);
}

OnnxModelInfo exportKerasOnnx(const KerasOnnxSource& source, const std::string& outPath,
                              const OnnxExportOptions& options) {
    atBoundary(outPath, [&] { checkDestination(outPath); });
    const std::string& weightsPath =
        source.weightsPath.empty() ? source.modelPath : source.weightsPath;
    GraphBuilder graph(source.modelPath);
    json model;
    json softmaxApplied = json::array();
    std::vector<std::string> classNames = source.classNames;
    std::string doc;
    atBoundary(source.modelPath, [&] {
        validatePreprocessing(source.preprocessing, "preprocessing");
        KerasModelConfig config = readKerasModelConfig(source.modelPath);
        if (source.weightsPath.empty() && !config.hasTfjsWeights)
            throw Error(source.modelPath,
                        "names no weights (not a TF.js model.json with a weightsManifest): "
                        "give its weights file too (Keras .h5 or .weights.h5)");
        if (config.inputs.size() != 1)
            throw Error(source.modelPath, "has " + std::to_string(config.inputs.size()) +
                                              " inputs; the ONNX export takes models with one");
        fixInputSize(config, source.inputSize, source.modelPath);
        model = {{"keras_model", config.name},
                 {"keras_class", config.className},
                 {"keras_version", config.kerasVersion},
                 {"source", std::filesystem::path(source.modelPath).filename().string()}};
        KerasGraph network(std::move(config), source.modelPath);
        const KerasWeightsFile weights = looksLikeJson(weightsPath)
                                             ? readTfjsModel(weightsPath).weights
                                             : readKerasWeights(weightsPath);
        network->loadWeights(weights, weightsPath, /*requireAll=*/true);
        network->eval();

        const auto shapes = network->inputShapes();
        for (std::int64_t d : shapes[0])
            if (d < 1)
                throw Error(source.modelPath, "its input has a dimension of unknown size");
        const Value input = graph.input(shapes[0]);
        onnxgraph::KerasOutputs exported =
            onnxgraph::exportKerasGraph(graph, *network, input, !options.softmax);
        std::vector<Value>& outputs = exported.values;
        std::vector<bool>& softmaxed = exported.softmaxed;
        const auto topology = network->topology();
        const bool single = outputs.size() == 1;
        if (options.softmax && !single)
            throw Error(source.modelPath, "has " + std::to_string(outputs.size()) +
                                              " outputs; a softmax is added to a model with one");
        if (options.softmax && !softmaxed[0]) {
            outputs[0] = graph.softmax(outputs[0], outputs[0].name + "/softmax", 0);
            softmaxed[0] = true;
        }
        for (bool s : softmaxed)
            softmaxApplied.push_back(s);
        if (single) {
            graph.output(outputs[0], softmaxed[0] ? "probabilities" : "logits");
        } else {
            for (std::size_t i = 0; i < outputs.size(); ++i)
                graph.output(outputs[i], topology.calls[topology.outputs[i]].layer->name);
        }
        if (single && outputs[0].shape.size() == 1) {
            const std::int64_t count = outputs[0].shape[0];
            if (classNames.empty())
                for (std::int64_t c = 0; c < count; ++c)
                    classNames.push_back("class_" + std::to_string(c));
            if (std::int64_t(classNames.size()) != count)
                throw Error(source.modelPath,
                            "gives " + std::to_string(count) + " values per image, but " +
                                std::to_string(classNames.size()) + " class names were given");
        } else if (!classNames.empty()) {
            throw Error(source.modelPath,
                        "does not end in one vector of class scores, so it "
                        "takes no class names");
        }
        model["input_shape"] = shapes[0];
        doc = "Keras model '" + model["keras_model"].get<std::string>() + "' from " +
              model["source"].get<std::string>() + " exported by ConvScope, input " +
              shapeText(shapes[0]) + " (channels first). The input is preprocessed as metadata " +
              "'preprocessing' says.";
    });
    std::map<std::string, std::string> meta{
        {"preprocessing", text(preprocessingJson(source.preprocessing))},
        {"softmax_applied",
         softmaxApplied.size() == 1 ? softmaxApplied[0].dump() : softmaxApplied.dump()},
        {"model", text(model)},
    };
    if (!classNames.empty())
        meta["class_names"] = text(json(classNames));
    return finishAndWrite(graph, meta, doc, outPath);
}

OnnxModelInfo describeOnnxFile(const std::string& path) {
    return atBoundary(path, [&] {
        std::ifstream in(path, std::ios::binary);
        if (!in)
            throw Error(path, "cannot open the file");
        onnx::ModelProto model;
        if (!model.ParseFromIstream(&in) || !model.has_graph())
            throw Error(path, "is not an ONNX model");
        OnnxModelInfo info = describe(model, path);
        info.bytes = std::filesystem::file_size(path);
        return info;
    });
}

}  // namespace convscope
