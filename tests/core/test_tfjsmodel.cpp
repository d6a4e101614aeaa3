#include "io/tfjsmodel.h"

#include "error.h"
#include "testimages.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>

using namespace convscope;
using namespace convscope::test;

namespace {

/// A one-layer TF.js layers model whose one weights group is read from `shardName`.
std::string writeModelJson(const TempDir& dir, const std::string& shardName) {
    const std::string path = dir.file("model/model.json");
    std::ofstream(path) << R"({"format": "layers-model", "modelTopology": {"keras_version": "2.2.4",
 "model_config": {"class_name": "Model", "config": {"layers": [
  {"class_name": "Dense", "config": {"name": "dense"}}]}}},
 "weightsManifest": [{"paths": [")"
                        << shardName << R"("], "weights": [
  {"name": "dense/kernel", "shape": [2], "dtype": "float32"}]}]})";
    return path;
}

std::string reasonOf(const std::string& modelJson) {
    try {
        readTfjsModel(modelJson);
    } catch (const Error& e) {
        return e.reason();
    }
    return "(read without an error)";
}

}  // namespace

TEST(TfjsModel, shardInsideTheFolderIsRead) {
    TempDir dir;
    const std::string json = writeModelJson(dir, "group1-shard1of1.bin");
    const float values[2] = {1.5f, -2.0f};
    std::ofstream(dir.file("model/group1-shard1of1.bin"), std::ios::binary)
        .write(reinterpret_cast<const char*>(values), sizeof values);
    const TfjsModel model = readTfjsModel(json);
    ASSERT_EQ(model.weights.layers.size(), 1u);
    EXPECT_EQ(model.weights.layers[0].weights[0].values[1], -2.0f);
}

TEST(TfjsModel, shardPathClimbingOutOfTheFolderIsRefusedAtOnce) {
    // "../../../../dev/zero" read forever (a hang, and a way to read any file).
    TempDir dir;
    const auto started = std::chrono::steady_clock::now();
    EXPECT_EQ(reasonOf(writeModelJson(dir, "../../../../../../../../dev/zero")),
              "weight shard '../../../../../../../../dev/zero' lies outside the model's folder");
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
    EXPECT_EQ(reasonOf(writeModelJson(dir, "/dev/zero")),
              "weight shard '/dev/zero' lies outside the model's folder");
    EXPECT_EQ(reasonOf(writeModelJson(dir, "sub/../../outside.bin")),
              "weight shard 'sub/../../outside.bin' lies outside the model's folder");
}

TEST(TfjsModel, symbolicLinkOutOfTheFolderIsRefused) {
    TempDir dir;
    const std::string json = writeModelJson(dir, "link.bin");
    std::filesystem::create_symlink("/dev/zero", dir.file("model/link.bin"));
    EXPECT_EQ(reasonOf(json), "weight shard 'link.bin' lies outside the model's folder");
}

TEST(TfjsModel, shardThatIsAFolderIsRefused) {
    TempDir dir;
    const std::string json = writeModelJson(dir, "folder");
    std::filesystem::create_directories(dir.file("model/folder/x"));
    EXPECT_EQ(reasonOf(json), "weight shard 'folder' is not a regular file");
}
