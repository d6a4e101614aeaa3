#include "models/modeljson.h"

#include "error.h"

#include <nlohmann/json.hpp>

namespace convscope {

nlohmann::json preprocessingToJson(const Preprocessing& p) {
    return {{"name", p.name},
            {"rescale", p.rescale},
            {"mean", p.mean},
            {"std", p.stddev},
            {"bgr", p.bgr}};
}

Preprocessing preprocessingFromJson(const nlohmann::json& j) {
    Preprocessing p;
    p.name = j.at("name").get<std::string>();
    p.rescale = j.at("rescale").get<float>();
    for (const char* key : {"mean", "std"})
        if (j.at(key).size() != 3)
            throw Error("preprocessing", std::string(key) + ": needs 3 values, one per channel");
    p.mean = j.at("mean").get<std::array<float, 3>>();
    p.stddev = j.at("std").get<std::array<float, 3>>();
    p.bgr = j.value("bgr", false);
    validatePreprocessing(p, "preprocessing");
    return p;
}

void addModelConfig(nlohmann::json& j, const ModelConfig& m, bool withClassCount) {
    j["architecture"] = architectureName(m.architecture);
    j["head"] = headName(m.head);
    j["flavour"] = flavourName(m.flavour);
    j["input_size"] = m.inputSize;
    j["dropout"] = m.dropout;
    if (withClassCount)
        j["class_count"] = m.classCount;
    if (m.batchNormMomentum > 0)
        j["batch_norm_momentum"] = m.batchNormMomentum;
    if (m.architecture == Architecture::Keras) {
        j["keras_model"] = nlohmann::json::parse(m.kerasModel);
        if (!m.cutAfter.empty())
            j["cut_after"] = m.cutAfter;
        if (!m.append.empty())
            j["append"] = m.append;
    }
}

ModelConfig modelConfigFromJson(const nlohmann::json& j, bool withClassCount) {
    ModelConfig m;
    m.architecture = parseArchitecture(j.at("architecture").get<std::string>());
    m.head = parseHead(j.at("head").get<std::string>());
    m.flavour = parseFlavour(j.value("flavour", "standard"));
    m.inputSize = j.at("input_size").get<int>();
    m.dropout = j.at("dropout").get<double>();
    if (withClassCount)
        m.classCount = j.at("class_count").get<int>();
    m.batchNormMomentum = j.value("batch_norm_momentum", 0.0);
    if (m.architecture == Architecture::Keras) {
        m.kerasModel = j.at("keras_model").dump();
        m.cutAfter = j.value("cut_after", "");
        m.append = j.value("append", "");
    }
    return m;
}

}  // namespace convscope
