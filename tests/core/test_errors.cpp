// docs/architecture.md promises that core's public entry points throw only convscope::Error,
// with the subject and a one-line reason: each foreign exception type goes through the one
// boundary helper, and real entry points are driven into their libraries' failures.
#include "error.h"

#include "data/datasetindex.h"
#include "inspect/predictor.h"
#include "models/modelconfig.h"
#include "testimages.h"
#include "trainerfixtures.h"
#include "train/trainer.h"
#include "util/buglog.h"

#include <H5Cpp.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <torch/torch.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>

using namespace convscope;
using namespace convscope::test;
namespace fs = std::filesystem;

namespace {

/// The Error that `thrower`'s exception becomes at the boundary.
Error translated(const std::function<void()>& thrower) {
    try {
        atBoundary("subject.bin", thrower);
    } catch (const Error& e) {
        return e;
    } catch (...) {
        ADD_FAILURE() << "a foreign exception crossed the boundary";
    }
    return Error("", "(nothing thrown)");
}

void expectOneCleanLine(const Error& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    EXPECT_EQ(what.find("frame #"), std::string::npos) << what;
    EXPECT_EQ(what.find("Exception raised from"), std::string::npos) << what;
    EXPECT_LE(e.reason().size(), 400u) << what;
    for (unsigned char c : what)
        EXPECT_FALSE(c < 0x20 || c == 0x7F) << "control byte in: " << what;
}

}  // namespace

TEST(ErrorBoundary, everyForeignTypeBecomesErrorWithTheSubject) {
    const std::vector<std::pair<std::string, std::function<void()>>> throwers{
        {"c10", [] { TORCH_CHECK(false, "a torch check\nwith a second line"); }},
        {"opencv", [] { CV_Error(cv::Error::StsBadArg, "an OpenCV failure"); }},
        {"hdf5", [] { throw H5::FileIException("H5File", "an HDF5 failure"); }},
        {"json", [] { [[maybe_unused]] const auto j = nlohmann::json::parse("{not json"); }},
        {"filesystem", [] { fs::create_directories("/proc/self/no/such/place"); }},
        {"bad_alloc", [] { throw std::bad_alloc(); }},
        {"length_error", [] { std::vector<char>().resize(std::size_t(-1)); }},
        {"std", [] { throw std::runtime_error("plain"); }},
        {"unknown", [] { throw 42; }},
    };
    for (const auto& [name, thrower] : throwers) {
        const Error e = translated(thrower);
        EXPECT_EQ(e.subject(), "subject.bin") << name;
        EXPECT_FALSE(e.reason().empty()) << name;
        expectOneCleanLine(e);
    }
    EXPECT_EQ(translated(throwers[0].second).reason().rfind("a torch check", 0), 0u);
    EXPECT_EQ(translated(throwers[1].second).reason(), "an OpenCV failure");
    EXPECT_EQ(translated(throwers[5].second).reason(), "not enough memory");
}

TEST(ErrorBoundary, convscopeErrorsAndTheirSubtypesPassUnchanged) {
    try {
        atBoundary("outer", [] { throw OutOfMemory("run", "too big", 64, 16); });
        FAIL();
    } catch (const OutOfMemory& e) {
        EXPECT_EQ(e.subject(), "run");
        EXPECT_EQ(e.largestBatch(), 16);
    }
}

TEST(ErrorBoundary, binaryBytesInALibraryMessageAreNotShown) {
    const std::string raw = std::string("bad token \x01\x02\xff\xfe") + "\x1b[2J" + " end";
    const std::string shown = readableReason(raw);
    EXPECT_EQ(shown, "bad token ?????[2J end");
    EXPECT_EQ(readableReason("caf\xc3\xa9 ok"), "caf\xc3\xa9 ok");  // UTF-8 kept
    EXPECT_EQ(readableReason(std::string(1000, 'x')).size(), 303u);
}

TEST(ErrorBoundary, aRunFolderUnderAFileIsAnErrorNotAFilesystemError) {
    TempDir dir;
    writeImage(dir.file("data/a/0.png"), solidBgr(8, 8, {1, 2, 3}));
    writeImage(dir.file("data/b/0.png"), solidBgr(8, 8, {3, 2, 1}));
    std::ofstream(dir.file("file")) << "x";
    TrainConfig c;
    c.dataDir = dir.file("data");
    c.runDir = dir.file("file") + "/run";
    c.model.inputSize = 32;
    c.epochs = 1;
    try {
        Trainer(c, nullptr).run();
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.subject(), c.runDir);
        expectOneCleanLine(e);
    }
}

TEST(ErrorBoundary, aHugeInputSizeIsAnErrorWithoutABacktrace) {
    ModelConfig m;
    m.architecture = Architecture::Vgg16;
    m.inputSize = 1 << 20;
    try {
        describeLayers(m);
        FAIL() << "a 2^20 px input was described";
    } catch (const Error& e) {
        expectOneCleanLine(e);
    }
}

TEST(ErrorBoundary, aByteFlippedCheckpointNamesTheFileInPlainText) {
    TempDir dir;
    makeColourDataset(dir, 4);
    TrainConfig c = smallConfig(dir, "run", 1);
    Trainer(c, nullptr).run();
    const std::string checkpoint = c.runDir + "/checkpoint.pt";
    auto bytes = readBytes(checkpoint);
    for (std::size_t i = 0; i < bytes.size(); i += 97)
        bytes[i] ^= 0x5A;
    writeBytes(checkpoint, bytes);
    TrainConfig more = Trainer::resumeConfig(c.runDir);
    more.epochs = 2;
    try {
        Trainer(more, nullptr, true).run();
        FAIL() << "a damaged checkpoint was resumed";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("checkpoint.pt"), std::string::npos) << e.what();
        expectOneCleanLine(e);
    }
}

TEST(ErrorBoundary, anythingElseIsReportedAsABugWithALogFile) {
    TempDir dir;
    ::setenv("XDG_STATE_HOME", dir.path().c_str(), 1);
    std::string shown;
    try {
        throw std::logic_error("an invariant broke");
    } catch (...) {
        shown = describeCurrentException("convscope test");
    }
    ::unsetenv("XDG_STATE_HOME");
    EXPECT_EQ(shown.rfind("internal error (a bug): an invariant broke; details in ", 0), 0u)
        << shown;
    const auto files = listFolder(dir.file("convscope"));
    ASSERT_EQ(files.size(), 1u);
    std::ifstream log(dir.file("convscope/" + files[0]));
    const std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
    EXPECT_NE(text.find("while: convscope test"), std::string::npos) << text;
    EXPECT_NE(text.find("what: an invariant broke"), std::string::npos) << text;
}

TEST(ErrorBoundary, anOptimizerChangedInConfigJsonIsRefusedInWords) {
    // It gave "INTERNAL ASSERT FAILED ... please report a bug to PyTorch".
    TempDir dir;
    makeColourDataset(dir, 4);
    TrainConfig c = smallConfig(dir, "run", 1);
    c.optimizer = OptimizerKind::Adam;
    Trainer(c, nullptr).run();
    TrainConfig more = Trainer::resumeConfig(c.runDir);
    more.epochs = 2;
    more.optimizer = OptimizerKind::Sgd;
    try {
        Trainer(more, nullptr, true).run();
        FAIL() << "resumed Adam's state into SGD";
    } catch (const Error& e) {
        EXPECT_NE(e.reason().find("does not fit this run's optimizer"), std::string::npos)
            << e.what();
        expectOneCleanLine(e);
    }
}
