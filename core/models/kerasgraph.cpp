#include "models/kerasgraph.h"

#include "error.h"
#include "io/tfjsmodel.h"
#include "models/keraslayers.h"

#include <torch/torch.h>

#include <map>
#include <set>

namespace convscope {

using keras::Shape;

namespace {

/// One call of a layer: a node of the graph.
struct Node {
    std::size_t layer = 0;
    int call = 0;
    std::vector<std::size_t> inputs;  ///< node indices
    Shape shape;
};

}  // namespace

struct KerasGraphImpl::Graph {
    KerasModelConfig config;
    std::string source;
    std::vector<Node> nodes;
    std::vector<std::size_t> order;  ///< node indices, inputs before the nodes that use them
    std::vector<std::size_t> inputs, outputs;
    /// Per layer: the module holding its weights (null without weights or when unused).
    std::vector<std::shared_ptr<torch::nn::Module>> weights;
    /// How many later nodes (and outputs) read each node's output.
    std::vector<int> readers;

    [[noreturn]] void fail(const std::string& what) const { throw Error(source, what); }

    void build();
    void sortFrom(const std::vector<std::size_t>& ends);
};

void KerasGraphImpl::Graph::build() {
    std::map<std::string, std::size_t> layerIndex;
    std::vector<std::vector<std::size_t>> nodesOf(config.layers.size());
    for (std::size_t i = 0; i < config.layers.size(); ++i) {
        const KerasLayer& l = config.layers[i];
        if (!layerIndex.emplace(l.name, i).second)
            fail("two layers are named '" + l.name + "'");
        const int calls = l.type == KerasLayerType::Input ? 1 : int(l.calls.size());
        for (int c = 0; c < calls; ++c) {
            nodesOf[i].push_back(nodes.size());
            nodes.push_back(Node{i, c, {}, {}});
        }
    }
    const auto resolve = [&](const KerasTensorRef& ref, const std::string& user) {
        const auto it = layerIndex.find(ref.layer);
        if (it == layerIndex.end())
            fail(user + " takes the output of layer '" + ref.layer + "', which the model lacks");
        const auto& calls = nodesOf[it->second];
        if (ref.node < 0 || std::size_t(ref.node) >= calls.size())
            fail(user + " takes call " + std::to_string(ref.node) + " of layer '" + ref.layer +
                 "', which is called " + std::to_string(calls.size()) + " times");
        if (ref.tensor != 0)
            fail(user + " takes output " + std::to_string(ref.tensor) + " of layer '" + ref.layer +
                 "', which has one output");
        return calls[std::size_t(ref.node)];
    };
    for (Node& n : nodes) {
        const KerasLayer& l = config.layers[n.layer];
        if (l.type == KerasLayerType::Input)
            continue;
        const std::string user = "layer '" + l.name + "' (" + l.className + ")";
        const auto& refs = l.calls[std::size_t(n.call)];
        if (refs.empty())
            fail(user + " has a call without inputs");
        for (const KerasTensorRef& ref : refs)
            n.inputs.push_back(resolve(ref, user));
    }
    for (const KerasTensorRef& ref : config.inputs) {
        const std::size_t node = resolve(ref, "the model's input");
        if (config.layers[nodes[node].layer].type != KerasLayerType::Input)
            fail("the model's input '" + ref.layer + "' is not an InputLayer");
        inputs.push_back(node);
    }
    for (const KerasTensorRef& ref : config.outputs)
        outputs.push_back(resolve(ref, "the model's output"));
    sortFrom(outputs);

    readers.assign(nodes.size(), 0);
    weights.assign(config.layers.size(), nullptr);
    std::vector<bool> built(config.layers.size(), false);
    std::vector<Shape> firstInput(config.layers.size());
    const std::set<std::size_t> inputSet(inputs.begin(), inputs.end());
    for (std::size_t index : order) {
        Node& n = nodes[index];
        const KerasLayer& l = config.layers[n.layer];
        if (l.type == KerasLayerType::Input && !inputSet.count(index))
            fail("input layer '" + l.name + "' is used but is not one of the model's inputs");
        std::vector<Shape> in;
        for (std::size_t i : n.inputs) {
            in.push_back(nodes[i].shape);
            ++readers[i];
        }
        n.shape = keras::outputShape(l, in, source);
        if (built[n.layer]) {
            // A shared layer: its weights were made for its first call's input.
            if (weights[n.layer] && in[0][0] != firstInput[n.layer][0])
                fail("layer '" + l.name + "' (" + l.className + ") is called on inputs of " +
                     keras::shapeText(firstInput[n.layer]) + " and " + keras::shapeText(in[0]));
            continue;
        }
        firstInput[n.layer] = in.empty() ? Shape{} : in[0];
        built[n.layer] = true;
        weights[n.layer] = keras::makeWeights(l, firstInput[n.layer]);
    }
    for (std::size_t o : outputs)
        ++readers[o];
}

/// Depth-first from the outputs, without recursion (graphs run to hundreds of layers).
void KerasGraphImpl::Graph::sortFrom(const std::vector<std::size_t>& ends) {
    enum : char { Unseen, Open, Done };
    std::vector<char> state(nodes.size(), Unseen);
    for (std::size_t end : ends) {
        std::vector<std::pair<std::size_t, std::size_t>> stack{{end, 0}};
        while (!stack.empty()) {
            auto& [node, next] = stack.back();
            if (next == 0 && state[node] == Done) {
                stack.pop_back();
                continue;
            }
            state[node] = Open;
            if (next < nodes[node].inputs.size()) {
                const std::size_t input = nodes[node].inputs[next++];
                if (state[input] == Open)
                    fail("layer '" + config.layers[nodes[input].layer].name +
                         "' depends on its own output (a cycle)");
                if (state[input] == Unseen)
                    stack.emplace_back(input, 0);
                continue;
            }
            state[node] = Done;
            order.push_back(node);
            stack.pop_back();
        }
    }
}

KerasGraphImpl::KerasGraphImpl(KerasModelConfig config, const std::string& source)
    : m_graph(std::make_unique<Graph>()) {
    atBoundary(source, [&] {
        m_graph->config = std::move(config);
        m_graph->source = source;
        m_graph->build();
        for (std::size_t i = 0; i < m_graph->weights.size(); ++i) {
            if (!m_graph->weights[i])
                continue;
            const std::string& name = m_graph->config.layers[i].name;
            if (name.find('.') != std::string::npos)
                m_graph->fail("layer '" + name +
                              "' has a '.' in its name, which LibTorch cannot register");
            register_module(name, m_graph->weights[i]);
        }
    });
}

KerasGraphImpl::~KerasGraphImpl() = default;

const KerasModelConfig& KerasGraphImpl::config() const {
    return m_graph->config;
}

const std::string& KerasGraphImpl::source() const {
    return m_graph->source;
}

std::vector<std::vector<std::int64_t>> KerasGraphImpl::inputShapes() const {
    std::vector<std::vector<std::int64_t>> shapes;
    for (std::size_t i : m_graph->inputs)
        shapes.push_back(m_graph->nodes[i].shape);
    return shapes;
}

std::vector<LayerInfo> KerasGraphImpl::summary() const {
    std::vector<LayerInfo> rows;
    for (std::size_t index : m_graph->order) {
        const Node& n = m_graph->nodes[index];
        const KerasLayer& l = m_graph->config.layers[n.layer];
        LayerInfo info;
        info.name = l.name;
        info.kind = l.className;
        info.outputShape = n.shape;
        if (n.call == 0 && m_graph->weights[n.layer])
            for (const auto& p : m_graph->weights[n.layer]->parameters())
                info.parameters += p.numel();
        rows.push_back(std::move(info));
    }
    return rows;
}

KerasGraphImpl::Topology KerasGraphImpl::topology() const {
    const Graph& g = *m_graph;
    Topology t;
    std::vector<std::size_t> position(g.nodes.size(), g.nodes.size());
    for (std::size_t index : g.order) {
        const Node& n = g.nodes[index];
        Call call;
        call.layer = &g.config.layers[n.layer];
        for (std::size_t i : n.inputs)
            call.inputs.push_back(position[i]);
        call.shape = n.shape;
        call.weights = g.weights[n.layer].get();
        position[index] = t.calls.size();
        t.calls.push_back(std::move(call));
    }
    for (std::size_t i : g.inputs) {
        if (position[i] == g.nodes.size())
            g.fail("no output depends on input '" + g.config.layers[g.nodes[i].layer].name + "'");
        t.inputs.push_back(position[i]);
    }
    for (std::size_t o : g.outputs)
        t.outputs.push_back(position[o]);
    return t;
}

torch::Tensor KerasGraphImpl::forward(torch::Tensor x, const LayerTap* tap) {
    return forwardAll({std::move(x)}, tap).front();
}

torch::Tensor KerasGraphImpl::compute(const torch::Tensor& x, const LayerTap* tap) {
    const Graph& g = *m_graph;
    return run({x}, tap, g.config.name.empty() ? g.source : g.config.name).front();
}

std::vector<torch::Tensor> KerasGraphImpl::forwardAll(const std::vector<torch::Tensor>& inputs,
                                                      const LayerTap* tap) {
    Graph& g = *m_graph;
    const std::string subject = g.config.name.empty() ? g.source : g.config.name;
    return atBoundary(subject, [&] { return run(inputs, tap, subject); });
}

std::vector<torch::Tensor> KerasGraphImpl::run(const std::vector<torch::Tensor>& inputs,
                                               const LayerTap* tap, const std::string& subject) {
    Graph& g = *m_graph;
    if (inputs.size() != g.inputs.size())
        throw Error(subject, "the model takes " + std::to_string(g.inputs.size()) +
                                 " inputs, not " + std::to_string(inputs.size()));
    std::vector<torch::Tensor> values(g.nodes.size());
    for (std::size_t k = 0; k < inputs.size(); ++k) {
        const Shape& want = g.nodes[g.inputs[k]].shape;
        const torch::Tensor& x = inputs[k];
        bool fits = x.dim() == std::int64_t(want.size()) + 1;
        for (std::size_t d = 0; fits && d < want.size(); ++d)
            fits = want[d] < 0 || x.size(std::int64_t(d) + 1) == want[d];
        if (!fits) {
            Shape got;
            for (std::int64_t d = 1; d < x.dim(); ++d)
                got.push_back(x.size(d));
            throw Error(subject, "input '" + g.config.layers[g.nodes[g.inputs[k]].layer].name +
                                     "' takes " + keras::shapeText(want) +
                                     " per sample (channels first), not " + keras::shapeText(got));
        }
        values[g.inputs[k]] = x;
    }
    std::vector<int> readers = g.readers;
    std::vector<torch::Tensor> in;
    for (std::size_t index : g.order) {
        const Node& n = g.nodes[index];
        const KerasLayer& l = g.config.layers[n.layer];
        if (l.type != KerasLayerType::Input) {
            in.clear();
            for (std::size_t i : n.inputs)
                in.push_back(values[i]);
            values[index] = keras::runLayer(l, g.weights[n.layer].get(), in, is_training());
            in.clear();
            // Intermediate results are dropped as soon as their last reader has run.
            for (std::size_t i : n.inputs)
                if (--readers[i] == 0)
                    values[i] = torch::Tensor();
        }
        if (tap)
            (*tap)(l.name, values[index]);
    }
    std::vector<torch::Tensor> outputs;
    for (std::size_t o : g.outputs)
        outputs.push_back(values[o]);
    return outputs;
}

namespace {

/// "kernel" for "Conv1/kernel", "conv/kernel:0", "kernel:0"; Keras 3's "0" stays "0".
std::string arrayName(const WeightArray& a) {
    std::string name = a.storedName.empty() ? a.name : a.storedName;
    if (const auto colon = name.rfind(':'); colon != std::string::npos)
        name.erase(colon);
    if (const auto slash = name.rfind('/'); slash != std::string::npos)
        name.erase(0, slash + 1);
    return name;
}

/// The file's arrays in the slots' order: by name when every name matches a slot, else as
/// stored.
std::vector<const WeightArray*> inSlotOrder(const std::vector<keras::WeightSlot>& slots,
                                            const LayerWeights& layer) {
    std::vector<const WeightArray*> stored;
    std::map<std::string, const WeightArray*> byName;
    for (const WeightArray& a : layer.weights) {
        stored.push_back(&a);
        byName[arrayName(a)] = &a;
    }
    std::vector<const WeightArray*> named;
    for (const keras::WeightSlot& slot : slots) {
        const auto it = byName.find(slot.name);
        if (it == byName.end() || byName.size() != slots.size())
            return stored;
        named.push_back(it->second);
    }
    return named;
}

std::string listed(const std::vector<std::string>& names) {
    std::string text;
    for (std::size_t i = 0; i < names.size() && i < 8; ++i)
        text += (i ? ", " : "") + names[i];
    if (names.size() > 8)
        text += ", ... (" + std::to_string(names.size()) + " in all)";
    return text;
}

}  // namespace

LoadReport KerasGraphImpl::loadWeights(const KerasWeightsFile& file, const std::string& source,
                                       bool requireAll) {
    return atBoundary(source, [&] {
        Graph& g = *m_graph;
        std::map<std::string, const LayerWeights*> fileLayers;
        for (const LayerWeights& l : file.layers)
            if (!l.weights.empty())
                fileLayers.emplace(l.name, &l);
        LoadReport report;
        std::vector<std::string> problems;
        std::vector<std::pair<torch::Tensor, torch::Tensor>> assignments;
        std::set<std::string> used;
        for (std::size_t i = 0; i < g.weights.size(); ++i) {
            if (!g.weights[i])
                continue;
            const KerasLayer& layer = g.config.layers[i];
            const auto it = fileLayers.find(layer.name);
            if (it == fileLayers.end()) {
                report.notInFile.push_back(layer.name);
                continue;
            }
            used.insert(layer.name);
            const auto slots = keras::weightSlots(layer, *g.weights[i]);
            const LayerWeights& stored = *it->second;
            if (stored.weights.size() != slots.size()) {
                problems.push_back(layer.name + ": " + std::to_string(stored.weights.size()) +
                                   " arrays in the file, " + std::to_string(slots.size()) +
                                   " in the model");
                continue;
            }
            const auto arrays = inSlotOrder(slots, stored);
            for (std::size_t k = 0; k < slots.size(); ++k) {
                const WeightArray& a = *arrays[k];
                if (a.shape != slots[k].kerasShape) {
                    problems.push_back(layer.name + "/" + slots[k].name + ": file " +
                                       keras::shapeText(a.shape) + ", model expects " +
                                       keras::shapeText(slots[k].kerasShape));
                    continue;
                }
                std::int64_t count = 1;
                for (std::int64_t d : a.shape)
                    count *= d;
                if (count != std::int64_t(a.values.size())) {
                    problems.push_back(layer.name + "/" + slots[k].name + ": damaged array");
                    continue;
                }
                const torch::Tensor keras =
                    torch::from_blob(const_cast<float*>(a.values.data()), a.shape, torch::kFloat32);
                assignments.emplace_back(slots[k].target,
                                         keras::toTorchLayout(keras, slots[k]).clone());
            }
            report.loaded.push_back(layer.name);
        }
        for (const LayerWeights& l : file.layers)
            if (!l.weights.empty() && !used.count(l.name))
                report.notInModel.push_back(l.name);
        if (!problems.empty())
            throw Error(source, "shape mismatch, nothing loaded: " + listed(problems));
        if (requireAll && !report.notInFile.empty())
            throw Error(source,
                        "lacks the weights of " + std::to_string(report.notInFile.size()) +
                            " layers of the model, nothing loaded: " + listed(report.notInFile));
        torch::NoGradGuard noGrad;
        for (auto& [target, value] : assignments)
            target.copy_(value.to(target.device()));
        return report;
    });
}

KerasGraph buildKerasGraph(const KerasModelConfig& config, const std::string& source) {
    return atBoundary(source, [&] { return KerasGraph(config, source); });
}

KerasGraph cloneKerasGraph(const KerasGraph& model) {
    return atBoundary(model->source(), [&] {
        KerasGraph copy(model->config(), model->source());
        torch::NoGradGuard noGrad;
        const auto parameters = model->named_parameters();
        for (auto& item : copy->named_parameters()) {
            item.value().copy_(parameters[item.key()]);
            item.value().set_requires_grad(parameters[item.key()].requires_grad());
        }
        const auto buffers = model->named_buffers();
        for (auto& item : copy->named_buffers())
            item.value().copy_(buffers[item.key()]);
        copy->train(model->is_training());
        return copy;
    });
}

KerasGraph loadKerasGraph(const std::string& modelPath, const std::string& weightsPath) {
    const std::string& source = weightsPath.empty() ? modelPath : weightsPath;
    return atBoundary(modelPath, [&] {
        KerasModelConfig config = readKerasModelConfig(modelPath);
        if (weightsPath.empty() && !config.hasTfjsWeights)
            throw Error(modelPath,
                        "names no weights (not a TF.js model.json with a weightsManifest): "
                        "give its weights file too (Keras .h5 or .weights.h5)");
        KerasGraph graph(std::move(config), modelPath);
        const KerasWeightsFile weights =
            looksLikeJson(source) ? readTfjsModel(source).weights : readKerasWeights(source);
        graph->loadWeights(weights, source, /*requireAll=*/true);
        graph->eval();
        return graph;
    });
}

}  // namespace convscope
