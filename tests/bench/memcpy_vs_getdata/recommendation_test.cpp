#include "mvg/recommendation.hpp"

#include <gtest/gtest.h>

#include "results_builder.hpp"

namespace mvg {
namespace {

using testing::add;
using testing::table2_scaled;

TEST(Recommendation, OneModeWinningEverywhereIsOneRange) {
  auto results = table2_scaled(3.0, 2.0, 2.5, 1.0);
  auto ranges = recommend(results);
  ASSERT_EQ(ranges.size(), 1u);
  EXPECT_EQ(ranges[0], (ModeRange{4 * KiB, 1024 * KiB, Mode::GetData}));
  EXPECT_EQ(format_recommendation(ranges), "4k-1m: get_data");
}

TEST(Recommendation, NeverRecommendsPlainCopyWhichLosesTheData) {
  // copy is fastest everywhere, but the application cannot keep its buffer.
  auto ranges = recommend(table2_scaled(3.0, 2.0, 2.5, 0.5));
  for (const auto& r : ranges) EXPECT_NE(r.mode, Mode::Copy);
}

TEST(Recommendation, NamesShmemZcWhereItWins) {
  auto results = table2_scaled(3.0, 2.0, 2.5, 1.0);
  // No copy, but a slower start: it wins once the copy it saves outweighs that.
  for (auto bs : kTable2BlockSizes) add(results, "randwrite", bs, Mode::ShmemZc, 200 + static_cast<double>(bs / KiB));
  EXPECT_EQ(format_recommendation(recommend(results)), "4k-128k: get_data; 256k-1m: shmem_zc");
}

TEST(Recommendation, SplitsWhereTheWinnerChanges) {
  Results results;
  for (auto bs : kTable2BlockSizes) {
    bool small = bs <= 64 * KiB;
    add(results, "randwrite", bs, Mode::AppCopy, small ? 10 : 50);
    add(results, "randwrite", bs, Mode::GetData, small ? 12 : 30);
    add(results, "randwrite", bs, Mode::UserCopy, 40);
  }
  auto ranges = recommend(results);
  ASSERT_EQ(ranges.size(), 2u);
  EXPECT_EQ(ranges[0], (ModeRange{4 * KiB, 64 * KiB, Mode::AppCopy}));
  EXPECT_EQ(ranges[1], (ModeRange{128 * KiB, 1024 * KiB, Mode::GetData}));
  EXPECT_EQ(format_recommendation(ranges), "4k-64k: copy --app-copy; 128k-1m: get_data");
}

TEST(Recommendation, ATieWithinNoiseDoesNotSplitARange) {
  Results results;
  for (auto bs : kTable2BlockSizes) {
    // At 128k user_copy is 1% faster than get_data: noise, get_data's range goes on.
    add(results, "randwrite", bs, Mode::AppCopy, 100);
    add(results, "randwrite", bs, Mode::GetData, 50);
    add(results, "randwrite", bs, Mode::UserCopy, bs == 128 * KiB ? 49.5 : 60);
  }
  auto ranges = recommend(results);
  ASSERT_EQ(ranges.size(), 1u);
  EXPECT_EQ(ranges[0].mode, Mode::GetData);
}

TEST(Recommendation, AClearWinOverThePreviousModeSplits) {
  Results results;
  for (auto bs : kTable2BlockSizes) {
    add(results, "randwrite", bs, Mode::AppCopy, 100);
    add(results, "randwrite", bs, Mode::GetData, 50);
    add(results, "randwrite", bs, Mode::UserCopy, bs == 128 * KiB ? 45 : 60);
  }
  EXPECT_EQ(format_recommendation(recommend(results)),
            "4k-64k: get_data; 128k: user_copy; 256k-1m: get_data");
}

TEST(Recommendation, SkipsBlockSizesWithoutMeasurements) {
  Results results;
  add(results, "randwrite", 4 * KiB, Mode::UserCopy, 5);
  add(results, "randwrite", 1024 * KiB, Mode::UserCopy, 500);
  results.add(summarize({"randwrite", 64 * KiB, Mode::GetData}, {}, "daemon failed to start"));
  auto ranges = recommend(results);
  ASSERT_EQ(ranges.size(), 1u);
  EXPECT_EQ(ranges[0], (ModeRange{4 * KiB, 1024 * KiB, Mode::UserCopy}));
}

TEST(Recommendation, SaysSoWhenNothingWasMeasured) {
  EXPECT_EQ(format_recommendation(recommend(Results{})),
            "no recommendation: no deployable mode was measured");
}

}  // namespace
}  // namespace mvg
