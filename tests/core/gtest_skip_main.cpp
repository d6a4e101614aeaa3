// The main of the core tests: GoogleTest's, except that a run in which some tests were skipped
// (GTEST_SKIP: no GPU, no ../shared data, no AVX-512) and none failed exits with 77, which
// CTest reports as "Skipped" (SKIP_RETURN_CODE) instead of a pass. A failure still fails.
#include <gtest/gtest.h>

#include <cstdio>

int main(int argc, char** argv) {
    testing::InitGoogleTest(&argc, argv);
    const int failed = RUN_ALL_TESTS();
    const testing::UnitTest& run = *testing::UnitTest::GetInstance();
    if (failed == 0 && run.skipped_test_count() > 0) {
        std::printf("%d of %d tests skipped (reasons above): reported to CTest as skipped.\n",
                    run.skipped_test_count(), run.test_to_run_count());
        return 77;
    }
    return failed;
}
