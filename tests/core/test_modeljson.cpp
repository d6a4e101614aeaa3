// One home for each concept: the preprocessing type and its one JSON codec (shared by
// config.json and the weight files' metadata), the enum name tables, and shape text.
#include "models/modeljson.h"

#include "error.h"
#include "models/classifier.h"
#include "train/trainconfig.h"
#include "util/enumnames.h"
#include "util/text.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

using namespace convscope;

TEST(ModelJson, everyPresetSurvivesTheCodec) {
    for (const Preprocessing& p : {rescalePreprocessing(), torchvisionPreprocessing(),
                                   caffePreprocessing(), tfPreprocessing()})
        EXPECT_EQ(preprocessingFromJson(preprocessingToJson(p)), p) << p.name;
}

TEST(ModelJson, configJsonAndWeightsMetadataWriteTheSamePreprocessing) {
    TrainConfig c;
    c.preprocessing = caffePreprocessing();
    const nlohmann::json config = nlohmann::json::parse(toJson(c));
    EXPECT_EQ(config.at("preprocessing"), preprocessingToJson(caffePreprocessing()));
    EXPECT_EQ(trainConfigFromJson(toJson(c), "config.json").preprocessing, caffePreprocessing());
}

TEST(ModelJson, badPreprocessingIsRefusedWithTheReason) {
    nlohmann::json two = preprocessingToJson(torchvisionPreprocessing());
    two["mean"] = {0.5, 0.5};
    EXPECT_THROW(preprocessingFromJson(two), Error);
    nlohmann::json zero = preprocessingToJson(torchvisionPreprocessing());
    zero["std"] = {0.2, 0.0, 0.2};
    try {
        preprocessingFromJson(zero);
        FAIL() << "a zero standard deviation was accepted";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("std"), std::string::npos) << e.what();
    }
    nlohmann::json noBgr = preprocessingToJson(tfPreprocessing());
    noBgr.erase("bgr");  // files from before "bgr" existed
    EXPECT_EQ(preprocessingFromJson(noBgr), tfPreprocessing());
    // A damaged config.json names itself.
    TrainConfig c;
    nlohmann::json config = nlohmann::json::parse(toJson(c));
    config["preprocessing"] = zero;
    try {
        trainConfigFromJson(config.dump(), "run/config.json");
        FAIL() << "a config with a zero std was accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.subject(), "run/config.json");
    }
}

TEST(ModelJson, modelConfigRoundTripsWithAndWithoutItsClassCount) {
    ModelConfig m;
    m.architecture = Architecture::MobileNetV2;
    m.head = Head::GlobalAveragePool;
    m.flavour = Flavour::Keras;
    m.inputSize = 96;
    m.classCount = 7;
    m.dropout = 0.25;
    nlohmann::json j = nlohmann::json::object();
    addModelConfig(j, m, true);
    const ModelConfig back = modelConfigFromJson(j, true);
    EXPECT_EQ(back.architecture, m.architecture);
    EXPECT_EQ(back.head, m.head);
    EXPECT_EQ(back.flavour, m.flavour);
    EXPECT_EQ(back.inputSize, 96);
    EXPECT_EQ(back.classCount, 7);
    EXPECT_DOUBLE_EQ(back.dropout, 0.25);
    nlohmann::json noCount = nlohmann::json::object();
    addModelConfig(noCount, m, false);
    EXPECT_FALSE(noCount.contains("class_count"));
    noCount.erase("flavour");
    EXPECT_EQ(modelConfigFromJson(noCount, false).flavour, Flavour::Standard);
    // The architecture's own batch-norm momentum is not written; a chosen one is, and read back.
    EXPECT_FALSE(j.contains("batch_norm_momentum"));
    EXPECT_DOUBLE_EQ(back.batchNormMomentum, 0.0);
    m.batchNormMomentum = 0.9;
    nlohmann::json withMomentum = nlohmann::json::object();
    addModelConfig(withMomentum, m, true);
    EXPECT_DOUBLE_EQ(modelConfigFromJson(withMomentum, true).batchNormMomentum, 0.9);
}

TEST(EnumNames, everyNameParsesBackAndUnknownNamesListTheChoices) {
    for (Architecture a : {Architecture::SmallConvNet, Architecture::Vgg16, Architecture::ResNet18,
                           Architecture::MobileNetV2})
        EXPECT_EQ(parseArchitecture(architectureName(a)), a);
    for (Schedule s : {Schedule::Constant, Schedule::Step, Schedule::Cosine, Schedule::Plateau})
        EXPECT_EQ(parseSchedule(scheduleName(s)), s);
    try {
        parseOptimizer("lamb");
        FAIL() << "an unknown optimizer was accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.subject(), "optimizer");
        EXPECT_EQ(e.reason(), "unknown 'lamb' (sgd, adam or rmsprop)");
    }
    enum class Two { A, B };
    const EnumName<Two> table[] = {{Two::A, "a"}, {Two::B, "b"}};
    EXPECT_STREQ(enumName(Two::B, table), "b");
    EXPECT_EQ(parseEnum("a", table, "two"), Two::A);
    EXPECT_THROW(parseEnum("c", table, "two"), Error);
}

TEST(ShapeText, tuplesAsPythonPrintsThemAndDimensionsForPeople) {
    EXPECT_EQ(shapeText(std::vector<std::int64_t>{3, 3, 3, 32}), "(3, 3, 3, 32)");
    EXPECT_EQ(shapeText(std::vector<std::int64_t>{5}), "(5,)");
    EXPECT_EQ(shapeText(std::vector<std::int64_t>{}), "()");
    EXPECT_EQ(dimensionsText(std::vector<std::int64_t>{32, 74, 74}), "32 × 74 × 74");
}
