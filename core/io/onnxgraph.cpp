#include "io/onnxgraph.h"

#include "error.h"
#include "runtime.h"

#include <onnx/checker.h>
#include <onnx/shape_inference/implementation.h>
#include <torch/torch.h>

#include <bit>
#include <cmath>
#include <cstdio>
#include <cstring>

namespace convscope::onnxgraph {

static_assert(
    std::endian::native == std::endian::little,
    "ONNX raw tensor data is little-endian; this exporter copies host floats as they are");

namespace {

/// protobuf's limit for one message; larger models would need ONNX's external data files.
constexpr std::uint64_t kMaxModelBytes = (std::uint64_t(1) << 31) - (std::uint64_t(64) << 20);

void setInt(onnx::NodeProto& n, const char* name, std::int64_t value) {
    auto* a = n.add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(value);
}

void setInts(onnx::NodeProto& n, const char* name, const std::vector<std::int64_t>& values) {
    auto* a = n.add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INTS);
    for (std::int64_t v : values)
        a->add_ints(v);
}

void setFloat(onnx::NodeProto& n, const char* name, double value) {
    auto* a = n.add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::FLOAT);
    a->set_f(float(value));
}

std::string shapeText(const std::vector<std::int64_t>& shape) {
    std::string text = "(";
    for (std::size_t i = 0; i < shape.size(); ++i)
        text += (i ? ", " : "") + std::to_string(shape[i]);
    return text + (shape.size() == 1 ? ",)" : ")");
}

/// Output side of a window sliding over `in` cells padded by `before` and `after`.
std::int64_t slide(std::int64_t in, std::int64_t before, std::int64_t after, std::int64_t extent,
                   std::int64_t stride) {
    const std::int64_t span = in + before + after - extent;
    return span < 0 ? 0 : span / stride + 1;
}

void setValueInfo(onnx::ValueInfoProto* info, const std::string& name,
                  const std::vector<std::int64_t>& shape) {
    info->set_name(name);
    auto* tensor = info->mutable_type()->mutable_tensor_type();
    tensor->set_elem_type(onnx::TensorProto::FLOAT);
    auto* dims = tensor->mutable_shape();
    dims->add_dim()->set_dim_param("batch");
    for (std::int64_t d : shape)
        dims->add_dim()->set_dim_value(d);
}

}  // namespace

Pair samePadding(std::int64_t in, std::int64_t kernel, std::int64_t stride, std::int64_t dilation) {
    const std::int64_t out = (in + stride - 1) / stride;
    const std::int64_t total =
        std::max<std::int64_t>((out - 1) * stride + (kernel - 1) * dilation + 1 - in, 0);
    return {total / 2, total - total / 2};
}

GraphBuilder::GraphBuilder(std::string subject)
    : m_subject(std::move(subject)), m_graph(m_model.mutable_graph()) {}

void GraphBuilder::fail(const std::string& layer, const std::string& what) const {
    throw Error(m_subject, "layer '" + layer + "' " + what);
}

std::string GraphBuilder::uniqueName(const std::string& wanted) {
    std::string name = wanted;
    for (int i = 1; !m_names.insert(name).second; ++i)
        name = wanted + "_" + std::to_string(i);
    return name;
}

onnx::NodeProto& GraphBuilder::node(const std::string& op, const std::vector<std::string>& inputs,
                                    const std::string& output, const std::string& name) {
    onnx::NodeProto* n = m_graph->add_node();
    n->set_op_type(op);
    n->set_name(name);
    for (const std::string& i : inputs)
        n->add_input(i);
    n->add_output(output);
    return *n;
}

Value GraphBuilder::input(const std::vector<std::int64_t>& shape) {
    const std::string name = uniqueName("input");
    setValueInfo(m_graph->add_input(), name, shape);
    return {name, shape};
}

void GraphBuilder::output(const Value& value, const std::string& name) {
    std::string out = value.name;
    if (out != name) {
        out = uniqueName(name);
        if (out != name)
            fail(name, "is the name of another value in the graph, not free for an output");
        node("Identity", {value.name}, out, out);
    }
    setValueInfo(m_graph->add_output(), out, value.shape);
}

std::string GraphBuilder::weight(const std::string& name, const torch::Tensor& values) {
    const torch::Tensor t = values.detach().to(torch::kCPU, torch::kFloat32).contiguous();
    const std::uint64_t bytes = std::uint64_t(t.numel()) * sizeof(float);
    if (m_weightBytes + bytes > kMaxModelBytes)
        throw Error(m_subject, "holds more than 2 GB of weights, more than one ONNX file can (" +
                                   std::to_string((m_weightBytes + bytes) >> 20) +
                                   " MB by layer '" + name + "')");
    onnx::TensorProto* init = m_graph->add_initializer();
    const std::string unique = uniqueName(name);
    init->set_name(unique);
    init->set_data_type(onnx::TensorProto::FLOAT);
    for (std::int64_t d : t.sizes())
        init->add_dims(d);
    init->set_raw_data(t.data_ptr<float>(), bytes);
    m_weightBytes += bytes;
    return unique;
}

std::string GraphBuilder::constant(const std::string& name, const torch::Tensor& values) {
    return weight("const/" + name, values);
}

std::string GraphBuilder::scalar(float value) {
    char key[32];
    std::uint32_t bits;
    std::memcpy(&bits, &value, sizeof bits);
    std::snprintf(key, sizeof key, "f%08x", bits);
    if (const auto it = m_constants.find(key); it != m_constants.end())
        return it->second;
    onnx::TensorProto* init = m_graph->add_initializer();
    char text[32];
    std::snprintf(text, sizeof text, "const/%g", double(value));
    const std::string name = uniqueName(text);
    init->set_name(name);
    init->set_data_type(onnx::TensorProto::FLOAT);
    init->add_float_data(value);
    m_constants[key] = name;
    return name;
}

std::string GraphBuilder::ints(const std::vector<std::int64_t>& values) {
    std::string key = "i";
    for (std::int64_t v : values)
        key += std::to_string(v) + ",";
    if (const auto it = m_constants.find(key); it != m_constants.end())
        return it->second;
    onnx::TensorProto* init = m_graph->add_initializer();
    const std::string name = uniqueName("const/ints" + std::to_string(m_constants.size()));
    init->set_name(name);
    init->set_data_type(onnx::TensorProto::INT64);
    init->add_dims(std::int64_t(values.size()));
    for (std::int64_t v : values)
        init->add_int64_data(v);
    m_constants[key] = name;
    return name;
}

void GraphBuilder::requireImage(const Value& x, const std::string& layer) const {
    if (x.shape.size() != 3)
        fail(layer, "needs an image input (C, H, W), not " + shapeText(x.shape));
}

Value GraphBuilder::conv(const Value& x, const std::string& name, const torch::Tensor& weight,
                         const torch::Tensor& bias, Pair stride, Pair dilation, std::int64_t groups,
                         Pads pads) {
    requireImage(x, name);
    if (weight.dim() != 4 || weight.size(1) * groups != x.shape[0])
        fail(name, "has a kernel of " + shapeText(weight.sizes().vec()) + " for " +
                       std::to_string(x.shape[0]) + " input channels in " + std::to_string(groups) +
                       " groups");
    const std::int64_t kh = weight.size(2), kw = weight.size(3);
    Value out{
        uniqueName(name),
        {weight.size(0), slide(x.shape[1], pads[0], pads[2], (kh - 1) * dilation[0] + 1, stride[0]),
         slide(x.shape[2], pads[1], pads[3], (kw - 1) * dilation[1] + 1, stride[1])}};
    if (out.shape[1] < 1 || out.shape[2] < 1)
        fail(name, "gets an input of " + shapeText(x.shape) + ", too small for its kernel");
    std::vector<std::string> inputs{x.name, this->weight(out.name + "/weight", weight)};
    if (bias.defined())
        inputs.push_back(this->weight(out.name + "/bias", bias));
    auto& n = node("Conv", inputs, out.name, out.name);
    setInts(n, "kernel_shape", {kh, kw});
    setInts(n, "strides", {stride[0], stride[1]});
    setInts(n, "dilations", {dilation[0], dilation[1]});
    setInts(n, "pads", {pads.begin(), pads.end()});
    setInt(n, "group", groups);
    return out;
}

Value GraphBuilder::batchNorm(const Value& x, const std::string& name, const torch::Tensor& gamma,
                              const torch::Tensor& beta, const torch::Tensor& mean,
                              const torch::Tensor& var, double epsilon) {
    if (x.shape.empty() || mean.numel() != x.shape[0])
        fail(name, "normalises " + std::to_string(mean.numel()) + " channels of an input of " +
                       shapeText(x.shape));
    Value out{uniqueName(name), x.shape};
    auto& n =
        node("BatchNormalization",
             {x.name, weight(out.name + "/gamma", gamma), weight(out.name + "/beta", beta),
              weight(out.name + "/moving_mean", mean), weight(out.name + "/moving_variance", var)},
             out.name, out.name);
    setFloat(n, "epsilon", epsilon);
    return out;
}

Value GraphBuilder::dense(const Value& x, const std::string& name, const torch::Tensor& w,
                          const torch::Tensor& bias) {
    const std::int64_t in = w.size(1), units = w.size(0);
    const bool image = x.shape.size() == 3;
    if ((x.shape.size() != 1 && !image) || x.shape[0] != in)
        fail(name,
             "takes " + std::to_string(in) + " features, not an input of " + shapeText(x.shape));
    const std::string layer = uniqueName(name);
    if (!image) {
        std::vector<std::string> inputs{x.name, weight(layer + "/kernel", w)};
        if (bias.defined())
            inputs.push_back(weight(layer + "/bias", bias));
        setInt(node("Gemm", inputs, layer, layer), "transB", 1);
        return {layer, {units}};
    }
    // Keras applies Dense to the last axis: channels, with the image channels last.
    const std::string last = uniqueName(layer + "/channels_last");
    setInts(node("Transpose", {x.name}, last, last), "perm", {0, 2, 3, 1});
    std::string y = uniqueName(layer + "/matmul");
    node("MatMul", {last, weight(layer + "/kernel", w.t())}, y, y);
    if (bias.defined()) {
        const std::string biased = uniqueName(layer + "/bias_add");
        node("Add", {y, weight(layer + "/bias", bias)}, biased, biased);
        y = biased;
    }
    setInts(node("Transpose", {y}, layer, layer), "perm", {0, 3, 1, 2});
    return {layer, {units, x.shape[1], x.shape[2]}};
}

Value GraphBuilder::maxPool(const Value& x, const std::string& name, Pair kernel, Pair stride,
                            Pads pads) {
    return pool("MaxPool", x, name, kernel, stride, pads).first;
}

Value GraphBuilder::averagePool(const Value& x, const std::string& name, Pair kernel, Pair stride,
                                Pads pads, bool countPadding) {
    auto [out, n] = pool("AveragePool", x, name, kernel, stride, pads);
    setInt(*n, "count_include_pad", countPadding ? 1 : 0);
    return out;
}

std::pair<Value, onnx::NodeProto*> GraphBuilder::pool(const char* op, const Value& x,
                                                      const std::string& name, Pair kernel,
                                                      Pair stride, Pads pads) {
    requireImage(x, name);
    Value out{uniqueName(name),
              {x.shape[0], slide(x.shape[1], pads[0], pads[2], kernel[0], stride[0]),
               slide(x.shape[2], pads[1], pads[3], kernel[1], stride[1])}};
    if (out.shape[1] < 1 || out.shape[2] < 1)
        fail(name, "gets an input of " + shapeText(x.shape) + ", too small for its window");
    auto& n = node(op, {x.name}, out.name, out.name);
    setInts(n, "kernel_shape", {kernel[0], kernel[1]});
    setInts(n, "strides", {stride[0], stride[1]});
    setInts(n, "pads", {pads.begin(), pads.end()});
    return {out, &n};
}

Value GraphBuilder::adaptiveAveragePool(const Value& x, const std::string& name, Pair out) {
    requireImage(x, name);
    const std::int64_t h = x.shape[1], w = x.shape[2];
    if (h == out[0] && w == out[1])
        return x;
    if (h % out[0] == 0 && w % out[1] == 0)
        return averagePool(x, name, {h / out[0], w / out[1]}, {h / out[0], w / out[1]},
                           {0, 0, 0, 0}, false);
    // Cells of uneven or overlapping bins (an input smaller than the output): the average is
    // linear in each axis, so two matrix products with torch's bins [floor(i*in/out),
    // ceil((i+1)*in/out)) compute it exactly.
    const auto bins = [](std::int64_t in, std::int64_t n) {
        torch::Tensor m = torch::zeros({n, in});
        for (std::int64_t i = 0; i < n; ++i) {
            const std::int64_t start = i * in / n, end = ((i + 1) * in + n - 1) / n;
            m.index_put_({i, torch::indexing::Slice(start, end)}, 1.0 / double(end - start));
        }
        return m;
    };
    const std::string layer = uniqueName(name);
    const std::string columns = uniqueName(layer + "/columns");
    node("MatMul", {x.name, constant(layer + "/column_bins", bins(w, out[1]).t())}, columns,
         columns);
    node("MatMul", {constant(layer + "/row_bins", bins(h, out[0])), columns}, layer, layer);
    return {layer, {x.shape[0], out[0], out[1]}};
}

Value GraphBuilder::globalPool(const Value& x, const std::string& name, bool max, bool keepDims) {
    requireImage(x, name);
    Value out{uniqueName(name),
              keepDims ? std::vector<std::int64_t>{x.shape[0], 1, 1} : std::vector{x.shape[0]}};
    auto& n = node(max ? "ReduceMax" : "ReduceMean", {x.name}, out.name, out.name);
    setInts(n, "axes", {2, 3});
    setInt(n, "keepdims", keepDims ? 1 : 0);
    return out;
}

Value GraphBuilder::flatten(const Value& x, const std::string& name, bool channelsLast) {
    if (x.shape.size() == 1)
        return x;
    std::int64_t count = 1;
    for (std::int64_t d : x.shape)
        count *= d;
    Value out{uniqueName(name), {count}};
    std::string in = x.name;
    if (channelsLast && x.shape.size() == 3) {
        in = uniqueName(out.name + "/channels_last");
        setInts(node("Transpose", {x.name}, in, in), "perm", {0, 2, 3, 1});
    }
    setInt(node("Flatten", {in}, out.name, out.name), "axis", 1);
    return out;
}

Value GraphBuilder::zeroPad(const Value& x, const std::string& name, Pads pads) {
    requireImage(x, name);
    Value out{uniqueName(name),
              {x.shape[0], x.shape[1] + pads[0] + pads[2], x.shape[2] + pads[1] + pads[3]}};
    node("Pad", {x.name, ints({0, 0, pads[0], pads[1], 0, 0, pads[2], pads[3]})}, out.name,
         out.name);
    return out;
}

Value GraphBuilder::elementwise(const std::string& op, const std::vector<Value>& xs,
                                const std::string& name) {
    for (const Value& x : xs)
        if (x.shape != xs[0].shape)
            fail(name, "combines inputs of shapes " + shapeText(xs[0].shape) + " and " +
                           shapeText(x.shape));
    Value out{uniqueName(name), xs[0].shape};
    std::vector<std::string> names;
    for (const Value& x : xs)
        names.push_back(x.name);
    node(op, names, out.name, out.name);
    return out;
}

Value GraphBuilder::add(const std::vector<Value>& xs, const std::string& name) {
    if (xs.size() == 1)
        return xs[0];
    return elementwise(xs.size() == 2 ? "Add" : "Sum", xs, name);
}

Value GraphBuilder::sub(const Value& a, const Value& b, const std::string& name) {
    return elementwise("Sub", {a, b}, name);
}

Value GraphBuilder::concat(const std::vector<Value>& xs, const std::string& name,
                           std::int64_t axis) {
    std::vector<std::int64_t> shape = xs[0].shape;
    if (axis < 0 || axis >= std::int64_t(shape.size()))
        fail(name, "concatenates along an axis its inputs lack");
    std::vector<std::string> names;
    for (std::size_t k = 0; k < xs.size(); ++k) {
        bool fits = xs[k].shape.size() == shape.size();
        for (std::size_t d = 0; fits && d < shape.size(); ++d)
            fits = std::int64_t(d) == axis || xs[k].shape[d] == shape[d];
        if (!fits)
            fail(name, "cannot join inputs of shapes " + shapeText(xs[0].shape) + " and " +
                           shapeText(xs[k].shape));
        if (k > 0)
            shape[std::size_t(axis)] += xs[k].shape[std::size_t(axis)];
        names.push_back(xs[k].name);
    }
    Value out{uniqueName(name), shape};
    setInt(node("Concat", names, out.name, out.name), "axis", axis + 1);
    return out;
}

Value GraphBuilder::softmax(const Value& x, const std::string& name, std::int64_t axis) {
    Value out{uniqueName(name), x.shape};
    setInt(node("Softmax", {x.name}, out.name, out.name), "axis", axis + 1);
    return out;
}

Value GraphBuilder::scale(const Value& x, const std::string& name, double factor) {
    Value out{uniqueName(name), x.shape};
    node("Mul", {x.name, scalar(float(factor))}, out.name, out.name);
    return out;
}

Value GraphBuilder::affine(const Value& x, const std::string& name, double factor, double offset) {
    if (offset == 0)
        return scale(x, name, factor);
    Value scaled = factor == 1 ? x : scale(x, name + "/scale", factor);
    Value out{uniqueName(name), x.shape};
    node("Add", {scaled.name, scalar(float(offset))}, out.name, out.name);
    return out;
}

Value GraphBuilder::unary(const std::string& op, const Value& x, const std::string& name) {
    Value out{uniqueName(name), x.shape};
    node(op, {x.name}, out.name, out.name);
    return out;
}

Value GraphBuilder::clip(const Value& x, const std::string& name, double low, double high) {
    Value out{uniqueName(name), x.shape};
    node("Clip", {x.name, scalar(float(low)), scalar(float(high))}, out.name, out.name);
    return out;
}

Value GraphBuilder::leakyRelu(const Value& x, const std::string& name, double slope) {
    Value out{uniqueName(name), x.shape};
    setFloat(node("LeakyRelu", {x.name}, out.name, out.name), "alpha", slope);
    return out;
}

Value GraphBuilder::elu(const Value& x, const std::string& name) {
    Value out{uniqueName(name), x.shape};
    setFloat(node("Elu", {x.name}, out.name, out.name), "alpha", 1.0);
    return out;
}

Value GraphBuilder::hardSigmoid(const Value& x, const std::string& name, double alpha,
                                double beta) {
    Value out{uniqueName(name), x.shape};
    auto& n = node("HardSigmoid", {x.name}, out.name, out.name);
    setFloat(n, "alpha", alpha);
    setFloat(n, "beta", beta);
    return out;
}

Value GraphBuilder::swish(const Value& x, const std::string& name) {
    const Value gate = unary("Sigmoid", x, name + "/sigmoid");
    return elementwise("Mul", {x, gate}, name);
}

Value GraphBuilder::gelu(const Value& x, const std::string& name) {
    // The exact form torch::gelu computes: x / 2 * (1 + erf(x / sqrt(2))).
    const Value erf = unary("Erf", scale(x, name + "/scaled", 1.0 / std::sqrt(2.0)), name + "/erf");
    const Value half = affine(erf, name + "/half", 0.5, 0.5);
    return elementwise("Mul", {x, half}, name);
}

Value GraphBuilder::thresholded(const Value& x, const std::string& name, double threshold) {
    const std::string above = uniqueName(name + "/above");
    node("Greater", {x.name, scalar(float(threshold))}, above, above);
    const std::string mask = uniqueName(name + "/mask");
    setInt(node("Cast", {above}, mask, mask), "to", onnx::TensorProto::FLOAT);
    Value out{uniqueName(name), x.shape};
    node("Mul", {x.name, mask}, out.name, out.name);
    return out;
}

onnx::ModelProto GraphBuilder::finish(const std::map<std::string, std::string>& metadata,
                                      const std::string& docString) {
    m_model.set_ir_version(onnx::IR_VERSION);
    auto* opset = m_model.add_opset_import();
    opset->set_domain("");
    opset->set_version(kOpset);
    m_model.set_producer_name("ConvScope");
    m_model.set_producer_version(convscopeVersion());
    m_model.set_model_version(1);
    m_model.set_doc_string(docString);
    m_graph->set_name("convscope");
    for (const auto& [key, value] : metadata) {
        auto* prop = m_model.add_metadata_props();
        prop->set_key(key);
        prop->set_value(value);
    }
    try {
        onnx::checker::check_model(m_model);
        // Strict shape inference: a shape ONNX infers that differs from a declared output's
        // is an error, so the outputs are what the exporter says they are.
        onnx::shape_inference::InferShapes(m_model, onnx::OpSchemaRegistry::Instance(),
                                           onnx::ShapeInferenceOptions(true, 1, false));
    } catch (const std::exception& e) {
        throw Error(m_subject, "the exported graph fails ONNX's checks (a ConvScope bug): " +
                                   readableReason(e.what()));
    }
    m_graph->clear_value_info();
    return std::move(m_model);
}

}  // namespace convscope::onnxgraph
