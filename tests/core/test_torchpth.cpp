// The .pth reader on files that Python's torch.save writes at test time
// (make_pth_fixtures.py); skipped when the PyTorch environment's torch is missing.
#include "io/torchpth.h"

#include "error.h"
#include "io/pretrained.h"
#include "testimages.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <memory>

using namespace convscope;
using namespace convscope::test;

namespace {

std::string errorOf(const std::string& path) {
    try {
        readTorchStateDict(path);
    } catch (const Error& e) {
        EXPECT_EQ(e.subject(), path);
        return e.reason();
    }
    return "";
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

}  // namespace

class TorchPth : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        s_dir = std::make_unique<TempDir>();
        const std::string command = std::string(CONVSCOPE_PYTHON) + " " +
                                    CONVSCOPE_TEST_SOURCE_DIR + "/make_pth_fixtures.py " +
                                    s_dir->path();
        s_status = std::system(command.c_str());
    }
    static void TearDownTestSuite() { s_dir.reset(); }

    void SetUp() override {
        if (WIFEXITED(s_status) && WEXITSTATUS(s_status) == 77)
            GTEST_SKIP() << "torch is missing";
        ASSERT_EQ(s_status, 0) << "make_pth_fixtures.py failed";
    }

    static std::string file(const std::string& name) { return s_dir->file(name); }

    static void expectSmallStateDict(const TorchStateDict& d) {
        const std::vector<std::string> names{"base",    "transposed", "offset",
                                             "longs",   "ints",       "halves",
                                             "doubles", "flags",      "bn.num_batches_tracked",
                                             "param"};
        ASSERT_EQ(d.tensors.size(), names.size());
        for (std::size_t i = 0; i < names.size(); ++i)
            EXPECT_EQ(d.tensors[i].name, names[i]) << "file order";
        const torch::Tensor base = torch::arange(24, torch::kFloat32).reshape({4, 6});
        EXPECT_TRUE(torch::equal(d.find("base")->value, base));
        const torch::Tensor transposed = d.find("transposed")->value;
        EXPECT_EQ(transposed.sizes(), (std::vector<std::int64_t>{6, 4}));
        EXPECT_TRUE(transposed.is_contiguous());
        EXPECT_TRUE(torch::equal(transposed, base.t()));
        const torch::Tensor offset = d.find("offset")->value;
        EXPECT_TRUE(torch::equal(offset, base.slice(0, 1, 3).slice(1, 2, 5)));
        EXPECT_EQ(offset[0][0].item<float>(), 8.0f);
        const auto* longs = d.find("longs");
        EXPECT_EQ(longs->dtype, torch::kInt64);
        EXPECT_EQ(longs->value[2].item<std::int64_t>(), std::int64_t(1) << 40);
        EXPECT_EQ(longs->value[0].item<std::int64_t>(), -3);
        EXPECT_EQ(d.find("ints")->dtype, torch::kInt32);
        EXPECT_EQ(d.find("ints")->value[1].item<int>(), -8);
        EXPECT_EQ(d.find("halves")->dtype, torch::kFloat16);
        EXPECT_EQ(d.find("halves")->value[1].item<float>(), -2.0f);
        EXPECT_EQ(d.find("doubles")->value[1].item<double>(), 1e300);
        EXPECT_EQ(d.find("flags")->dtype, torch::kBool);
        EXPECT_FALSE(d.find("flags")->value[1].item<bool>());
        const auto* count = d.find("bn.num_batches_tracked");
        EXPECT_EQ(count->value.dim(), 0);
        EXPECT_EQ(count->value.item<std::int64_t>(), 5);
        EXPECT_TRUE(torch::equal(d.find("param")->value, torch::arange(3, torch::kFloat32) + 0.25));
    }

    static std::unique_ptr<TempDir> s_dir;
    static int s_status;
};

std::unique_ptr<TempDir> TorchPth::s_dir;
int TorchPth::s_status = 0;

TEST_F(TorchPth, stateDictReadsEveryDtypeAndViewInFileOrder) {
    expectSmallStateDict(readTorchStateDict(file("small.pth")));
}

TEST_F(TorchPth, protocolFourFileReadsTheSame) {
    expectSmallStateDict(readTorchStateDict(file("proto4.pth")));
}

TEST_F(TorchPth, checkpointDictGivesItsStateDict) {
    expectSmallStateDict(readTorchStateDict(file("checkpoint.pth")));
}

TEST_F(TorchPth, dataParallelPrefixIsRemoved) {
    expectSmallStateDict(readTorchStateDict(file("dataparallel.pth")));
}

TEST_F(TorchPth, shapesOnlyReadsNoValues) {
    const TorchStateDict d = readTorchStateDict(file("small.pth"), /*withValues=*/false);
    ASSERT_EQ(d.tensors.size(), 10u);
    EXPECT_EQ(d.find("offset")->shape, (std::vector<std::int64_t>{2, 3}));
    EXPECT_EQ(d.find("longs")->dtype, torch::kInt64);
    EXPECT_FALSE(d.find("base")->value.defined());
}

TEST_F(TorchPth, legacyFileIsExplainedWithHowToResave) {
    const std::string reason = errorOf(file("legacy.pth"));
    EXPECT_TRUE(contains(reason, "legacy PyTorch file")) << reason;
    EXPECT_TRUE(contains(reason, "torch.save(torch.load(")) << reason;
    EXPECT_EQ(detectWeightsFormat(file("legacy.pth")), WeightsFormat::TorchPth);
}

TEST_F(TorchPth, textFileIsNotAPytorchFile) {
    EXPECT_TRUE(contains(errorOf(file("text.pth")), "not a PyTorch state_dict file"));
    try {
        detectWeightsFormat(file("text.pth"));
        FAIL() << "a text file was taken for weights";
    } catch (const Error& e) {
        EXPECT_TRUE(contains(e.reason(), "not a weight file")) << e.reason();
    }
}

TEST_F(TorchPth, wholePickledModuleNamesItsClassAndTheFix) {
    const std::string reason = errorOf(file("module.pth"));
    EXPECT_TRUE(contains(reason, "torch.nn.modules.linear.Linear")) << reason;
    EXPECT_TRUE(contains(reason, "torch.save(model.state_dict(), path)")) << reason;
}

TEST_F(TorchPth, aTensorAloneIsNotAStateDict) {
    EXPECT_TRUE(contains(errorOf(file("plain_tensor.pth")), "holds a tensor, not a state_dict"));
}

TEST_F(TorchPth, truncatedArchiveIsAnError) {
    EXPECT_TRUE(contains(errorOf(file("truncated.pth")), "damaged or truncated"));
}

TEST_F(TorchPth, missingStorageRecordIsNamed) {
    const std::string reason = errorOf(file("missing_storage.pth"));
    EXPECT_TRUE(contains(reason, "storage record data/0 is missing")) << reason;
}

TEST_F(TorchPth, missingFileIsAnError) {
    EXPECT_TRUE(contains(errorOf(file("nothing-here.pth")), "cannot open"));
}
