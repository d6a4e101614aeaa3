// The runs listing: what each run folder says (status.json, config.json, history.csv,
// run.json), how a run ended, and that a damaged folder is listed as such without hiding the
// others.
#include "train/runcatalog.h"

#include "error.h"
#include "testimages.h"
#include "train/runcontrol.h"
#include "train/runstatus.h"
#include "train/trainer.h"
#include "trainerfixtures.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <utility>

using namespace convscope;
using namespace convscope::test;
namespace fs = std::filesystem;

namespace {

struct CancelAfterFirstEpoch : TrainingObserver {
    Trainer* trainer = nullptr;
    void onEpochEnd(const EpochEnd&) override { trainer->cancel(); }
};

}  // namespace

TEST(RunCatalog, aFinishedRunSaysWhatItTrainedAndHowItDid) {
    TempDir dir;
    makeColourDataset(dir, 8);
    const TrainConfig c = smallConfig(dir, "runs/first", 2);
    const TrainingResult result = Trainer(c, nullptr).run();
    const RunSummary r = describeRun(c.runDir);
    EXPECT_EQ(r.status, "finished");
    EXPECT_EQ(r.name, "first");
    EXPECT_EQ(r.path, fs::absolute(c.runDir).lexically_normal().string());
    EXPECT_EQ(r.architecture, "small");
    EXPECT_EQ(r.epochsDone, 2);
    EXPECT_EQ(r.epochsPlanned, 2);
    ASSERT_TRUE(r.finalValidationAccuracy.has_value());
    EXPECT_DOUBLE_EQ(*r.finalValidationAccuracy, result.finalValidationAccuracy);
    ASSERT_TRUE(r.bestValidationAccuracy.has_value());
    EXPECT_GE(*r.bestValidationAccuracy, *r.finalValidationAccuracy);
    EXPECT_EQ(r.device, "cpu");
    EXPECT_EQ(r.data, fs::absolute(c.dataDir).lexically_normal().string());
    EXPECT_EQ(r.pid, (long long)getpid());
    EXPECT_EQ(r.host, hostName());
    EXPECT_TRUE(secondsFromIsoTime(r.started).has_value()) << r.started;
    EXPECT_TRUE(r.reason.empty()) << r.reason;
}

TEST(RunCatalog, aCancelledRunIsInterruptedAndAResumeFinishesIt) {
    TempDir dir;
    makeColourDataset(dir, 8);
    const TrainConfig c = smallConfig(dir, "runs/cut", 3);
    CancelAfterFirstEpoch cancel;
    Trainer trainer(c, &cancel);
    cancel.trainer = &trainer;
    trainer.run();
    RunSummary r = describeRun(c.runDir);
    EXPECT_EQ(r.status, "interrupted");
    EXPECT_EQ(r.epochsDone, 1);
    const std::string started = r.started;
    Trainer(Trainer::resumeConfig(c.runDir), nullptr, true).run();
    r = describeRun(c.runDir);
    EXPECT_EQ(r.status, "finished");
    EXPECT_EQ(r.epochsDone, 3);
    EXPECT_EQ(r.started, started) << "a resume keeps when the run first started";
}

TEST(RunCatalog, aRunThatFailsSaysWhyAndARefusedOneLeavesNothing) {
    TempDir dir;
    for (int i = 0; i < 4; ++i)
        writeImage(dir.file("data/only/" + std::to_string(i) + ".png"),
                   solidBgr(20, 20, {1, 2, 3}));
    const TrainConfig c = smallConfig(dir, "runs/one-class", 1);
    EXPECT_THROW(Trainer(c, nullptr).run(), Error);
    const RunSummary r = describeRun(c.runDir);
    EXPECT_EQ(r.status, "failed");
    EXPECT_NE(r.reason.find("two classes"), std::string::npos) << r.reason;

    TrainConfig refused = smallConfig(dir, "runs/refused", 1);
    refused.learningRate = 0;
    EXPECT_THROW(Trainer(refused, nullptr).run(), Error);
    EXPECT_FALSE(fs::exists(refused.runDir));
}

TEST(RunCatalog, aRunningRecordWhoseProcessIsGoneIsInterrupted) {
    TempDir dir;
    makeColourDataset(dir, 8);
    const TrainConfig c = smallConfig(dir, "runs/killed", 1);
    Trainer(c, nullptr).run();
    RunStatus s = *readRunStatus(c.runDir);
    s.state = RunState::Running;
    s.ended.clear();
    s.pid = 999999999;  // no such process
    writeRunStatus(c.runDir, s);
    RunSummary r = describeRun(c.runDir);
    EXPECT_EQ(r.status, "interrupted");
    EXPECT_NE(r.reason.find("999999999"), std::string::npos) << r.reason;
    // On another machine this one cannot tell: it is running as far as anyone here knows.
    s.host = "elsewhere";
    writeRunStatus(c.runDir, s);
    EXPECT_EQ(describeRun(c.runDir).status, "running");
}

TEST(RunCatalog, aFolderThatIsNotThereIsMissingNotDamaged) {
    TempDir dir;
    makeColourDataset(dir, 8);
    const TrainConfig c = smallConfig(dir, "runs/moved", 1);
    Trainer(c, nullptr).run();
    ASSERT_EQ(describeRun(c.runDir).status, "finished");
    fs::rename(c.runDir, dir.file("elsewhere"));
    const RunSummary r = describeRun(c.runDir);
    EXPECT_EQ(r.status, "missing");
    EXPECT_EQ(r.name, "moved");
    EXPECT_EQ(r.path, fs::absolute(c.runDir).lexically_normal().string());
    EXPECT_FALSE(r.reason.empty());
    EXPECT_EQ(r.epochsDone, 0);
    // A file where the folder was is not a run folder either.
    std::ofstream(c.runDir) << "not a folder";
    EXPECT_EQ(describeRun(c.runDir).status, "missing");
}

TEST(RunCatalog, damagedFoldersAreListedWithTheReasonAndNeverHideTheOthers) {
    TempDir dir;
    makeColourDataset(dir, 8);
    Trainer(smallConfig(dir, "runs/good", 1), nullptr).run();
    Trainer(smallConfig(dir, "runs/history", 1), nullptr).run();
    std::ofstream(dir.file("runs/history/history.csv"), std::ios::app) << "3,0.1,zero\n";
    fs::create_directories(dir.file("runs/config"));
    std::ofstream(dir.file("runs/config/config.json")) << "{\"data\": ";
    fs::create_directories(dir.file("runs/status"));
    std::ofstream(dir.file("runs/status/status.json")) << "not json";
    fs::create_directories(dir.file("runs/not-a-run"));
    std::ofstream(dir.file("runs/good/run.json")) << R"({"name": "baseline", "note": "first try"})";

    const std::vector<RunSummary> runs = listRuns(dir.file("runs"));
    ASSERT_EQ(runs.size(), 4u);
    std::map<std::string, RunSummary> byFolder;
    for (const RunSummary& r : runs)
        byFolder[fs::path(r.path).filename().string()] = r;
    EXPECT_EQ(byFolder.count("not-a-run"), 0u);
    EXPECT_EQ(byFolder["good"].status, "finished");
    EXPECT_EQ(byFolder["good"].name, "baseline");
    EXPECT_EQ(byFolder["good"].note, "first try");
    for (const char* damaged : {"history", "config", "status"}) {
        EXPECT_EQ(byFolder[damaged].status, "damaged") << damaged;
        EXPECT_FALSE(byFolder[damaged].reason.empty()) << damaged;
    }
    EXPECT_NE(byFolder["history"].reason.find("history.csv"), std::string::npos);
    EXPECT_EQ(byFolder["history"].architecture, "small") << "what could be read is kept";
    EXPECT_THROW(listRuns(dir.file("no-such-folder")), Error);
}

TEST(RunCatalog, theDefaultWorkspaceFollowsXdgDataHome) {
    const char* saved = std::getenv("XDG_DATA_HOME");
    setenv("XDG_DATA_HOME", "/tmp/xdg-data", 1);
    EXPECT_EQ(defaultWorkspace(), "/tmp/xdg-data/convscope/runs");
    if (saved)
        setenv("XDG_DATA_HOME", saved, 1);
    else
        unsetenv("XDG_DATA_HOME");
}

TEST(RunCatalog, historiesAndTheSettingsThatDifferAreWhatComparingNeeds) {
    TempDir dir;
    makeColourDataset(dir, 8);
    TrainConfig a = smallConfig(dir, "runs/a", 2);
    TrainConfig b = smallConfig(dir, "runs/b", 2);
    b.learningRate = 1e-3;
    b.augmentation.rotationRange = 30;
    Trainer(a, nullptr).run();
    Trainer(b, nullptr).run();
    const std::vector<RunEpoch> history = readRunHistory(a.runDir);
    ASSERT_EQ(history.size(), 2u);
    EXPECT_EQ(history[1].epoch, 2);
    EXPECT_GE(history[1].validationAccuracy, 0.0);
    EXPECT_LE(history[1].validationAccuracy, 1.0);
    EXPECT_TRUE(readRunHistory(dir.file("runs/none")).empty());

    const auto differences = differingSettings({a.runDir, b.runDir});
    std::map<std::string, std::vector<std::string>> byKey;
    for (const SettingDifference& d : differences)
        byKey[d.key] = d.values;
    ASSERT_EQ(byKey.size(), 2u) << "only the learning rate and the rotation differ";
    EXPECT_EQ(byKey.count("learning_rate"), 1u);
    EXPECT_EQ(byKey["augmentation.rotation_range"], (std::vector<std::string>{"10.0", "30.0"}));
    EXPECT_THROW(differingSettings({a.runDir, dir.file("runs/none")}), Error);
}

TEST(RunCatalog, aRunCanBeRenamedAndGivenANote) {
    TempDir dir;
    makeColourDataset(dir, 8);
    const TrainConfig c = smallConfig(dir, "runs/plain", 1);
    Trainer(c, nullptr).run();
    labelRun(c.runDir, "baseline", "rotation 10, first try");
    RunSummary r = describeRun(c.runDir);
    EXPECT_EQ(r.name, "baseline");
    EXPECT_EQ(r.note, "rotation 10, first try");
    labelRun(c.runDir, "", "kept");
    r = describeRun(c.runDir);
    EXPECT_EQ(r.name, "plain") << "an empty name goes back to the folder's";
    EXPECT_EQ(r.note, "kept");
    EXPECT_THROW(labelRun(dir.file("data"), "x", ""), Error);
}

TEST(RunControl, onlyRequestsMadeWhileWatchingCountEachOnce) {
    TempDir dir;
    makeColourDataset(dir, 4);
    const TrainConfig c = smallConfig(dir, "runs/asked", 1);
    Trainer(c, nullptr).run();
    EXPECT_THROW(requestRun((fs::path(dir.path()) / "runs").string(), RunRequest::Pause),
                 Error);                       // no run there
    requestRun(c.runDir, RunRequest::Cancel);  // before the watcher: an earlier session's
    RunControlWatcher watcher(c.runDir, std::chrono::milliseconds(0));
    EXPECT_EQ(watcher.poll(), std::nullopt);
    // Two requests within one clock tick are two requests.
    requestRun(c.runDir, RunRequest::Pause);
    EXPECT_EQ(watcher.poll(), RunRequest::Pause);
    requestRun(c.runDir, RunRequest::Continue);
    EXPECT_EQ(watcher.poll(), RunRequest::Continue);
    EXPECT_EQ(watcher.poll(), std::nullopt);
    {
        std::ofstream damaged(fs::path(c.runDir) / "control.json.tmp");
        damaged << "{\"request\": \"fly\"}";
    }
    fs::rename(fs::path(c.runDir) / "control.json.tmp", fs::path(c.runDir) / "control.json");
    EXPECT_EQ(watcher.poll(), std::nullopt);  // an unknown request is ignored
    // A watcher looks no more often than its interval.
    RunControlWatcher slow(c.runDir, std::chrono::hours(1));
    EXPECT_EQ(slow.poll(), std::nullopt);
    requestRun(c.runDir, RunRequest::Pause);
    EXPECT_EQ(slow.poll(), std::nullopt);
    clearRunRequests(c.runDir);
    EXPECT_FALSE(fs::exists(fs::path(c.runDir) / "control.json"));
}

namespace {

/// Asks through control.json, as another process would: pause after the first epoch, go on
/// once the pause shows in status.json and the listing, then stop.
struct AskingObserver : TrainingObserver {
    std::string runDir;
    int pauses = 0, resumes = 0;
    bool listedPaused = false;
    bool cancelAsked = false;
    void onEpochEnd(const EpochEnd& e) override {
        // One request at a time: a later one written before the run looked replaces it.
        if (e.epoch == 1)
            requestRun(runDir, RunRequest::Pause);
        else if (resumes > 0 && !std::exchange(cancelAsked, true))
            requestRun(runDir, RunRequest::Cancel);
    }
    void onPaused(bool paused) override {
        if (!paused) {
            ++resumes;
            return;
        }
        ++pauses;
        listedPaused = describeRun(runDir).paused && readRunStatus(runDir)->paused;
        requestRun(runDir, RunRequest::Continue);
    }
};

}  // namespace

TEST(RunControl, aRunPausesGoesOnAndStopsAsAskedThroughItsFolder) {
    TempDir dir;
    makeColourDataset(dir, 4);
    const TrainConfig c = smallConfig(dir, "runs/obeys", 200);
    AskingObserver asking;
    asking.runDir = c.runDir;
    const TrainingResult r = Trainer(c, &asking).run();
    EXPECT_EQ(asking.pauses, 1);
    EXPECT_EQ(asking.resumes, 1);
    EXPECT_TRUE(asking.listedPaused);
    EXPECT_TRUE(r.cancelled);
    EXPECT_GE(r.epochsCompleted, 2);
    EXPECT_LT(r.epochsCompleted, 200);
    const RunSummary s = describeRun(c.runDir);
    EXPECT_EQ(s.status, "interrupted");
    EXPECT_FALSE(s.paused);
    // A resumed session does not obey the cancel the last one was asked.
    EXPECT_TRUE(fs::exists(fs::path(c.runDir) / "control.json"));
    TrainConfig more = Trainer::resumeConfig(c.runDir);
    more.epochs = r.epochsCompleted + 1;
    const TrainingResult resumed = Trainer(more, nullptr, true).run();
    EXPECT_FALSE(resumed.cancelled);
    EXPECT_EQ(resumed.epochsCompleted, r.epochsCompleted + 1);
}
