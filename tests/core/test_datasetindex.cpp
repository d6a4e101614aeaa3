#include "data/datasetindex.h"

#include "error.h"
#include "testimages.h"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <map>

using namespace convscope;
using namespace convscope::test;
namespace fs = std::filesystem;

namespace {

void addImages(const TempDir& dir, const std::string& folder, int n) {
    for (int i = 0; i < n; ++i)
        writeImage(dir.file(folder + "/img_" + std::to_string(i) + ".png"),
                   solidBgr(8, 8, {double(i), 0, 0}));
}

std::map<std::string, std::string> skippedByPath(const DatasetIndex& index) {
    std::map<std::string, std::string> out;
    for (const auto& s : index.report().skipped)
        out[s.path] = s.reason;
    return out;
}

}  // namespace

TEST(DatasetIndex, classFoldersAreSortedAndSplitByFraction) {
    TempDir dir;
    addImages(dir, "dogs", 10);
    addImages(dir, "cats", 20);
    ScanOptions options;
    options.validationFraction = 0.2;
    const DatasetIndex index = DatasetIndex::scan(dir.path(), options);
    EXPECT_EQ(index.layout(), DatasetLayout::ClassFolders);
    ASSERT_EQ(index.classNames(), (std::vector<std::string>{"cats", "dogs"}));
    EXPECT_EQ(index.count(0, Split::Train), 16u);
    EXPECT_EQ(index.count(0, Split::Validation), 4u);
    EXPECT_EQ(index.count(1, Split::Train), 8u);
    EXPECT_EQ(index.count(1, Split::Validation), 2u);
    EXPECT_TRUE(index.report().skipped.empty());
}

TEST(DatasetIndex, theSameSeedGivesTheSameSplitAndAnotherSeedAnother) {
    TempDir dir;
    addImages(dir, "a", 30);
    addImages(dir, "b", 30);
    auto validationOf = [&](std::uint64_t seed) {
        ScanOptions o;
        o.seed = seed;
        std::vector<std::string> paths;
        const DatasetIndex index = DatasetIndex::scan(dir.path(), o);
        for (std::size_t i : index.indices(Split::Validation))
            paths.push_back(index.samples()[i].path);
        return paths;
    };
    EXPECT_EQ(validationOf(7), validationOf(7));
    EXPECT_NE(validationOf(7), validationOf(8));
}

TEST(DatasetIndex, kerasTrainValidationLayoutKeepsItsSplit) {
    TempDir dir;
    addImages(dir, "train/cats", 5);
    addImages(dir, "train/dogs", 4);
    addImages(dir, "validation/cats", 2);
    addImages(dir, "validation/dogs", 3);
    const DatasetIndex index = DatasetIndex::scan(dir.path());
    EXPECT_EQ(index.layout(), DatasetLayout::TrainValidationFolders);
    ASSERT_EQ(index.classNames(), (std::vector<std::string>{"cats", "dogs"}));
    EXPECT_EQ(index.count(0, Split::Train), 5u);
    EXPECT_EQ(index.count(0, Split::Validation), 2u);
    EXPECT_EQ(index.count(1, Split::Train), 4u);
    EXPECT_EQ(index.count(1, Split::Validation), 3u);
}

TEST(DatasetIndex, filesAtAnyDepthBelongToTheirClassFolder) {
    TempDir dir;
    addImages(dir, "cats/2019/summer", 2);
    addImages(dir, "cats/misc", 1);
    addImages(dir, "dogs", 1);
    ScanOptions o;
    o.validationFraction = 0;
    const DatasetIndex index = DatasetIndex::scan(dir.path(), o);
    EXPECT_EQ(index.count(0, Split::Train), 3u);
    EXPECT_EQ(index.count(1, Split::Train), 1u);
}

TEST(DatasetIndex, badFilesAreReportedWithTheirReasonAndTheRestImported) {
    TempDir dir;
    addImages(dir, "cats", 3);
    addImages(dir, "dogs", 3);
    writeBytes(dir.file("cats/empty.jpg"), {});
    writeImage(dir.file("cats/cut.jpg"), patternBgr(64, 64));
    auto jpeg = readBytes(dir.file("cats/cut.jpg"));
    jpeg.resize(jpeg.size() / 2);
    writeBytes(dir.file("cats/cut.jpg"), jpeg);
    writeImage(dir.file("cats/cut.png"), patternBgr(64, 64));
    auto png = readBytes(dir.file("cats/cut.png"));
    png.resize(png.size() - 20);
    writeBytes(dir.file("cats/cut.png"), png);
    writeBytes(dir.file("cats/.DS_Store"), {0, 0, 0, 1, 'B', 'u', 'd', '1', 0, 0, 16, 0});
    writeBytes(dir.file("cats/._img_0.png"), {0, 5, 22, 7, 0, 2, 0, 0, 'M', 'a', 'c', ' '});
    writeBytes(dir.file("dogs/notes.jpg"), {'h', 'e', 'l', 'l', 'o', '\n'});
    writePngHeaderOnly(dir.file("dogs/bomb.png"), 200000, 200000);
    fs::create_symlink(dir.path() + "/nowhere.png", dir.file("dogs/broken.png"));
    fs::create_directory_symlink("..", dir.file("dogs/loop"));
    fs::create_symlink(dir.file("dogs/self"), dir.file("dogs/self"));

    const DatasetIndex index = DatasetIndex::scan(dir.path());
    EXPECT_EQ(index.usableCount(), 6u);
    const auto skipped = skippedByPath(index);
    EXPECT_EQ(skipped.at("cats/empty.jpg"), "empty file (0 bytes)");
    EXPECT_EQ(skipped.at("cats/cut.jpg"), "truncated JPEG (no end marker)");
    EXPECT_EQ(skipped.at("cats/cut.png"), "truncated PNG (no IEND chunk)");
    EXPECT_EQ(skipped.at("cats/.DS_Store"), "not an image (macOS .DS_Store folder metadata)");
    EXPECT_EQ(skipped.at("cats/._img_0.png"), "not an image (AppleDouble resource fork)");
    EXPECT_EQ(skipped.at("dogs/notes.jpg"), "not an image (unrecognised file signature)");
    EXPECT_NE(skipped.at("dogs/bomb.png").find("image too large (200000x200000"),
              std::string::npos);
    EXPECT_EQ(skipped.at("dogs/broken.png"), "broken symbolic link (target missing)");
    EXPECT_EQ(skipped.at("dogs/loop"), "symbolic link loop (points back to an enclosing folder)");
    EXPECT_EQ(skipped.at("dogs/self"), "symbolic link loop");
}

TEST(DatasetIndex, unreadableFileIsReportedAsPermissionDenied) {
    TempDir dir;
    addImages(dir, "cats", 2);
    addImages(dir, "dogs", 2);
    const std::string locked = dir.file("cats/locked.png");
    writeImage(locked, solidBgr(4, 4, {1, 2, 3}));
    ASSERT_EQ(chmod(locked.c_str(), 0), 0);

    auto check = [&]() -> bool {
        const DatasetIndex index = DatasetIndex::scan(dir.path());
        const auto skipped = skippedByPath(index);
        const auto it = skipped.find("cats/locked.png");
        return it != skipped.end() && it->second == "cannot read (permission denied)" &&
               index.usableCount() == 4;
    };
    if (geteuid() != 0) {
        EXPECT_TRUE(check());
        return;
    }
    // Root reads everything, so scan as an unprivileged user in a child process.
    ASSERT_EQ(chmod(dir.path().c_str(), 0755), 0);
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        if (setgid(65534) != 0 || setuid(65534) != 0)
            _exit(3);
        _exit(check() ? 0 : 1);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0) << "1: not reported as permission denied, 3: setuid failed";
}

TEST(DatasetIndex, emptyClassFolderIsReportedAndNotAClass) {
    TempDir dir;
    addImages(dir, "cats", 2);
    addImages(dir, "dogs", 2);
    fs::create_directories(dir.path() + "/birds");
    writeBytes(dir.file("fish/readme.txt"), {'x'});
    const DatasetIndex index = DatasetIndex::scan(dir.path());
    EXPECT_EQ(index.classNames(), (std::vector<std::string>{"cats", "dogs"}));
    const auto skipped = skippedByPath(index);
    EXPECT_EQ(skipped.at("birds"), "empty class folder (no usable images)");
    EXPECT_EQ(skipped.at("fish"), "empty class folder (no usable images)");
    EXPECT_EQ(skipped.count("fish/readme.txt"), 1u);
}

TEST(DatasetIndex, singleClassScansWithAWarning) {
    TempDir dir;
    addImages(dir, "only", 3);
    const DatasetIndex index = DatasetIndex::scan(dir.path());
    EXPECT_EQ(index.classNames().size(), 1u);
    ASSERT_EQ(index.report().warnings.size(), 1u);
    EXPECT_NE(index.report().warnings[0].find("only one class"), std::string::npos);
}

TEST(DatasetIndex, nonAsciiPathsWork) {
    TempDir dir;
    addImages(dir, "chats é/été", 2);
    addImages(dir, "犬", 2);
    const DatasetIndex index = DatasetIndex::scan(dir.path());
    EXPECT_EQ(index.classNames(), (std::vector<std::string>{"chats é", "犬"}));
    EXPECT_EQ(index.usableCount(), 4u);
}

TEST(DatasetIndex, filesOutsideClassFoldersAreReported) {
    TempDir dir;
    addImages(dir, "cats", 2);
    writeImage(dir.file("stray.png"), solidBgr(4, 4, {0, 0, 0}));
    const DatasetIndex index = DatasetIndex::scan(dir.path());
    EXPECT_EQ(skippedByPath(index).at("stray.png"), "not inside a class folder");
}

TEST(DatasetIndex, missingFolderOrNoImagesIsAnError) {
    EXPECT_THROW(DatasetIndex::scan("/nonexistent/data"), Error);
    TempDir dir;
    writeBytes(dir.file("cats/a.txt"), {'a'});
    try {
        DatasetIndex::scan(dir.path());
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.reason(), "no class folder with an image in it");
    }
}

TEST(DatasetIndex, markUnusableMovesASampleIntoTheReport) {
    TempDir dir;
    addImages(dir, "cats", 2);
    addImages(dir, "dogs", 2);
    ScanOptions o;
    o.validationFraction = 0;
    DatasetIndex index = DatasetIndex::scan(dir.path(), o);
    index.markUnusable(0, "corrupt PNG (the decoder could not read the pixel data)");
    EXPECT_EQ(index.indices(Split::Train).size(), 3u);
    EXPECT_EQ(index.report().skipped.at(0).path, "cats/img_0.png");
}
