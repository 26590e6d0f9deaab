#include "mvg/plan.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

namespace mvg {
namespace {

TEST(Plan, CoversBothTablesAndMeasuresSharedCellsOnce) {
  auto cells = all_cells();
  std::set<std::string> keys;
  for (const auto& c : cells) keys.insert(c.key());
  EXPECT_EQ(keys.size(), cells.size()) << "a cell is measured twice";

  auto has = [&](const std::string& rw, std::uint64_t bs, Mode m) {
    return std::find(cells.begin(), cells.end(), Cell{rw, bs, m}) != cells.end();
  };
  for (auto bs : kTable2BlockSizes) {
    for (auto m : kTable2Modes) EXPECT_TRUE(has("randwrite", bs, m)) << bs;
  }
  for (const auto& rw : kTable1Workloads) {
    for (auto m : kTable1Modes) EXPECT_TRUE(has(rw, kTable1BlockSize, m)) << rw;
  }
  // 6 x 5 for Table 2; Table 1 adds randwrite's copy --no-data and write's 5 modes.
  EXPECT_EQ(cells.size(), 30u + 1u + 5u);
}

TEST(Plan, RunsEveryCellOncePerRepetition) {
  auto cells = all_cells();
  auto runs = interleaved_runs(cells, 3);
  ASSERT_EQ(runs.size(), 3 * cells.size());
  for (unsigned rep = 0; rep < 3; ++rep) {
    std::set<std::string> seen;
    for (std::size_t i = rep * cells.size(); i < (rep + 1) * cells.size(); ++i) {
      EXPECT_EQ(runs[i].rep, rep);
      seen.insert(runs[i].cell.key());
    }
    EXPECT_EQ(seen.size(), cells.size());
  }
}

TEST(Plan, InterleavesTheModesOfAWorkloadAndRotatesWhichGoesFirst) {
  auto runs = interleaved_runs(all_cells(), 2);
  // The first workload's four modes run back to back, before any other workload.
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(runs[i].cell.rw, "randwrite");
    EXPECT_EQ(runs[i].cell.block_size, 4 * KiB);
  }
  auto per_rep = all_cells().size();
  EXPECT_NE(runs[0].cell.mode, runs[per_rep].cell.mode) << "the same mode leads every repetition";
  std::set<Mode> first_group;
  for (std::size_t i = 0; i < 5; ++i) first_group.insert(runs[per_rep + i].cell.mode);
  EXPECT_EQ(first_group.size(), 5u);  // randwrite 4k has Table 1's copy --no-data too
}

TEST(Plan, NamesBlockSizesAsFioAndTheSeedDo) {
  EXPECT_EQ(format_block_size(4096), "4k");
  EXPECT_EQ(format_block_size(512 * KiB), "512k");
  EXPECT_EQ(format_block_size(1024 * KiB), "1m");
  EXPECT_EQ(format_block_size(1536), "1536");
  EXPECT_EQ((Cell{"write", 4096, Mode::AppCopy}.key()), "write-4k-copy_app_copy");
}

}  // namespace
}  // namespace mvg
