#pragma once

// Internal to core: an ONNX graph (opset 17) built op by op with Debian's ONNX library, each
// value carrying its shape so that exporters can compute paddings and check what they built.
// Only core/io/onnx*.cpp include this (it brings LibTorch and ONNX's protobuf classes).

#include <onnx/onnx_pb.h>
#include <torch/types.h>

#include <array>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace convscope {
class ClassifierImpl;
class KerasGraphImpl;
}  // namespace convscope

namespace convscope::onnxgraph {

inline constexpr int kOpset = 17;

/// A tensor in the graph: its name and its shape without the batch dimension, channels first
/// ((C, H, W) or (features)). Every shape is static; the batch is the model's dynamic "batch".
struct Value {
    std::string name;
    std::vector<std::int64_t> shape;
};

/// Paddings of the two spatial sides: top, left, bottom, right (ONNX's begins, then ends).
using Pads = std::array<std::int64_t, 4>;
using Pair = std::array<std::int64_t, 2>;

/// A model under construction. `subject` names the model in errors (a path). Nodes are named
/// after the layers they come from; names are made unique where a layer is called twice.
/// Not thread-safe.
class GraphBuilder {
public:
    explicit GraphBuilder(std::string subject);

    const std::string& subject() const { return m_subject; }

    /// The model's one input "input": float [batch, shape...].
    Value input(const std::vector<std::int64_t>& shape);
    /// Declares `value` an output of the model under `name` (an Identity node when renamed).
    void output(const Value& value, const std::string& name);

    /// A float32 initializer holding `values` (any device or type; copied).
    std::string weight(const std::string& name, const torch::Tensor& values);
    /// The same for values that are not learnt: named "const/<name>", so that readers can tell
    /// them from weights.
    std::string constant(const std::string& name, const torch::Tensor& values);

    // Layers. `name` names the node (and its output); shapes are checked and followed.
    Value conv(const Value& x, const std::string& name, const torch::Tensor& weight,
               const torch::Tensor& bias, Pair stride, Pair dilation, std::int64_t groups,
               Pads pads);
    /// Batch norm in inference form: (x - mean) / sqrt(var + eps) * gamma + beta, channel axis 1.
    Value batchNorm(const Value& x, const std::string& name, const torch::Tensor& gamma,
                    const torch::Tensor& beta, const torch::Tensor& mean, const torch::Tensor& var,
                    double epsilon);
    /// Dense: x W^T + b over the last axis of a vector, or over the channels of an image.
    Value dense(const Value& x, const std::string& name, const torch::Tensor& weight,
                const torch::Tensor& bias);
    Value maxPool(const Value& x, const std::string& name, Pair kernel, Pair stride, Pads pads);
    /// Average pooling; padded cells count in the average when `countPadding`.
    Value averagePool(const Value& x, const std::string& name, Pair kernel, Pair stride, Pads pads,
                      bool countPadding);
    /// torch's adaptive_avg_pool2d to out x out cells.
    Value adaptiveAveragePool(const Value& x, const std::string& name, Pair out);
    /// Mean (or max) over height and width: (C) or, with keepDims, (C, 1, 1).
    Value globalPool(const Value& x, const std::string& name, bool max, bool keepDims);
    /// (C, H, W) -> (C * H * W), in channels-first order or, with `channelsLast`, Keras's.
    Value flatten(const Value& x, const std::string& name, bool channelsLast);
    Value zeroPad(const Value& x, const std::string& name, Pads pads);
    Value add(const std::vector<Value>& xs, const std::string& name);
    /// Along a channels-first axis counted without the batch (0: channels).
    Value concat(const std::vector<Value>& xs, const std::string& name, std::int64_t axis);
    Value softmax(const Value& x, const std::string& name, std::int64_t axis);
    /// x * scale + offset.
    Value affine(const Value& x, const std::string& name, double scale, double offset);

    // Element-wise functions.
    Value unary(const std::string& op, const Value& x, const std::string& name);
    Value clip(const Value& x, const std::string& name, double low, double high);
    Value leakyRelu(const Value& x, const std::string& name, double slope);
    Value elu(const Value& x, const std::string& name);
    Value hardSigmoid(const Value& x, const std::string& name, double alpha, double beta);
    Value swish(const Value& x, const std::string& name);
    Value gelu(const Value& x, const std::string& name);
    /// x where x > threshold, else 0.
    Value thresholded(const Value& x, const std::string& name, double threshold);
    Value sub(const Value& a, const Value& b, const std::string& name);
    Value scale(const Value& x, const std::string& name, double factor);

    /// Fails with convscope::Error(subject, ...) naming the layer.
    [[noreturn]] void fail(const std::string& layer, const std::string& what) const;

    /// The finished model: ir version and opset set, checked with onnx::checker::check_model
    /// and shape inference (every inferred shape must agree with the declared outputs).
    /// `metadata` become metadata_props. Throws convscope::Error naming the subject.
    onnx::ModelProto finish(const std::map<std::string, std::string>& metadata,
                            const std::string& docString);

private:
    struct Attribute;
    onnx::NodeProto& node(const std::string& op, const std::vector<std::string>& inputs,
                          const std::string& output, const std::string& name);
    std::string uniqueName(const std::string& wanted);
    std::string scalar(float value);
    std::string ints(const std::vector<std::int64_t>& values);
    Value elementwise(const std::string& op, const std::vector<Value>& xs, const std::string& name);
    /// A MaxPool or AveragePool node over a window, and the output it gives.
    std::pair<Value, onnx::NodeProto*> pool(const char* op, const Value& x, const std::string& name,
                                            Pair kernel, Pair stride, Pads pads);
    void requireImage(const Value& x, const std::string& layer) const;

    std::string m_subject;
    onnx::ModelProto m_model;
    onnx::GraphProto* m_graph;
    std::set<std::string> m_names;
    std::map<std::string, std::string> m_constants;  ///< constant key -> initializer name
    std::uint64_t m_weightBytes = 0;                 ///< of all float initializers so far
};

/// The logits of one of ConvScope's own architectures (models/architectures.h), its forward
/// rebuilt from its modules: their registered names, options and weights. Throws
/// convscope::Error naming a module it cannot export, and when a module with weights is left
/// over (the architecture changed beyond what the exporter knows).
Value exportClassifier(GraphBuilder& graph, ClassifierImpl& model, const Value& input);

/// The outputs (model.outputs order) of a Keras graph, each with whether a softmax made it.
struct KerasOutputs {
    std::vector<Value> values;
    std::vector<bool> softmaxed;
};

/// The outputs of a Keras graph for its one input, whose shape `input` must have. With
/// `logits`, a model with one output that ends in a softmax (a Softmax layer, or one fused
/// into its last layer) gives the values before it. Throws convscope::Error naming a layer it
/// cannot export.
KerasOutputs exportKerasGraph(GraphBuilder& graph, const KerasGraphImpl& model, const Value& input,
                              bool logits);

/// Keras's 'same' padding of one side, TensorFlow's way: (before, after), the odd cell after.
Pair samePadding(std::int64_t in, std::int64_t kernel, std::int64_t stride, std::int64_t dilation);

}  // namespace convscope::onnxgraph
