// The data-parallel setup read from torchrun's environment variables (dist/distsetup.h).
#include "dist/distsetup.h"
#include "error.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

using namespace convscope;

namespace {

class DistSetupTest : public ::testing::Test {
protected:
    void TearDown() override {
        for (const char* name : {"RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE",
                                 "MASTER_ADDR", "MASTER_PORT", "CONVSCOPE_DIST_TIMEOUT"})
            ::unsetenv(name);
    }
    static void set(const char* name, const char* value) { ::setenv(name, value, 1); }
};

}  // namespace

TEST_F(DistSetupTest, withoutRankAndWorldSizeTrainingIsNotDistributedAndWithThemItIs) {
    EXPECT_FALSE(distributedSetupFromEnvironment());
    set("RANK", "0");
    EXPECT_FALSE(distributedSetupFromEnvironment());
    EXPECT_FALSE(DistributedSetup{}.distributed());
    // A worker of one (torchrun --nproc-per-node 1) still trains in a group, as with DDP.
    set("WORLD_SIZE", "1");
    const auto one = distributedSetupFromEnvironment();
    ASSERT_TRUE(one);
    EXPECT_TRUE(one->distributed());
    EXPECT_TRUE(one->writes());
    EXPECT_EQ(one->worldSize, 1);
}

TEST_F(DistSetupTest, torchrunsVariablesAreRead) {
    set("RANK", "5");
    set("WORLD_SIZE", "8");
    set("LOCAL_RANK", "1");
    set("LOCAL_WORLD_SIZE", "4");
    set("MASTER_ADDR", "node0");
    set("MASTER_PORT", "29400");
    set("CONVSCOPE_DIST_TIMEOUT", "30");
    const auto s = distributedSetupFromEnvironment();
    ASSERT_TRUE(s);
    EXPECT_EQ(s->rank, 5);
    EXPECT_EQ(s->worldSize, 8);
    EXPECT_EQ(s->localRank, 1);
    EXPECT_EQ(s->localWorldSize, 4);
    EXPECT_EQ(s->masterAddress, "node0");
    EXPECT_EQ(s->masterPort, 29400);
    EXPECT_EQ(s->timeoutSeconds, 30);
    EXPECT_FALSE(s->writes());
}

TEST_F(DistSetupTest, valuesThatDoNotFitNameTheirVariable) {
    const std::pair<const char*, const char*> bad[] = {
        {"RANK", "2"}, {"RANK", "x"}, {"MASTER_PORT", "70000"}, {"LOCAL_RANK", "-1"}};
    for (const auto& [name, value] : bad) {
        set("RANK", "1");
        set("WORLD_SIZE", "2");
        set(name, value);
        try {
            distributedSetupFromEnvironment();
            ADD_FAILURE() << name << "=" << value << " was accepted";
        } catch (const Error& e) {
            EXPECT_EQ(e.subject(), name);
        }
        TearDown();
    }
}
