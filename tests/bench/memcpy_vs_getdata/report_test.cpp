#include "mvg/report.hpp"

#include <gtest/gtest.h>

#include <sstream>

#include "results_builder.hpp"

namespace mvg {
namespace {

using testing::add;

// Every cell measured; get_data beats 2-memcpy from 64k on, shmem_zc beats both from 256k on.
Results full_results() {
  Results results;
  for (auto bs : kTable2BlockSizes) {
    double k = static_cast<double>(bs / KiB);
    add(results, "randwrite", bs, Mode::AppCopy, 10 + 2 * k, 30 + 2 * k);
    add(results, "randwrite", bs, Mode::GetData, (bs == 4 * KiB ? 20 : 11) + k, 40 + k);
    add(results, "randwrite", bs, Mode::UserCopy, 30 + 1.5 * k);
    add(results, "randwrite", bs, Mode::Copy, 9 + k);
    add(results, "randwrite", bs, Mode::ShmemZc, 100 + 0.5 * k);
  }
  for (const auto& rw : kTable1Workloads) {
    add(results, rw, kTable1BlockSize, Mode::CopyNoData, 8);
    if (rw == "write") {
      add(results, rw, kTable1BlockSize, Mode::Copy, 9);
      add(results, rw, kTable1BlockSize, Mode::GetData, 12);  // user_copy left unmeasured
    }
  }
  return results;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST(Report, Table2HasTheSeedsRowsOursBesideTheirsAndTheRatio) {
  auto text = table2_text(full_results());
  auto lines = lines_of(text);
  // A caption, the header, the rule, six rows.
  ASSERT_EQ(lines.size(), 9u) << text;
  EXPECT_NE(lines[1].find("| copy --app-copy "), std::string::npos);
  EXPECT_NE(lines[1].find("| seed ratio |"), std::string::npos);
  // 4k: 2-memcpy p50 18 / p99 38, get_data p50 24, ratio 18/24; seed 9.65 vs 10.06.
  EXPECT_EQ(lines[3].rfind("| 4k ", 0), 0u);
  EXPECT_NE(lines[3].find("| 18.00 / 38.00 "), std::string::npos) << lines[3];
  EXPECT_NE(lines[3].find("| 0.75 "), std::string::npos) << lines[3];
  EXPECT_NE(lines[3].find("| 9.65 "), std::string::npos);
  EXPECT_NE(lines[3].find("| 0.96 "), std::string::npos);
  EXPECT_EQ(lines[8].rfind("| 1m ", 0), 0u);
  EXPECT_NE(lines[8].find("| 177.1 "), std::string::npos);
}

TEST(Report, Table2HasTheShmemZcColumn) {
  auto lines = lines_of(table2_text(full_results()));
  ASSERT_EQ(lines.size(), 9u);
  EXPECT_NE(lines[1].find("| shmem_zc "), std::string::npos) << lines[1];
  EXPECT_NE(lines[8].find("| 612.0 / 1224.0 "), std::string::npos) << lines[8];  // 100 + 1024 / 2
}

// Where the kernel lacks UBLK_F_SHMEM_ZC every shmem_zc cell carries the inner side's reason.
Results without_shared_memory() {
  Results results;
  const std::string why = "kernel 6.12.48+deb12-amd64 lacks UBLK_F_SHMEM_ZC (Linux 7.1+)";
  for (const auto& c : all_cells()) {
    if (c.mode == Mode::ShmemZc) {
      results.add(summarize(c, {}, why));
    } else {
      add(results, c.rw, c.block_size, c.mode, 10);
    }
  }
  return results;
}

TEST(Report, AColumnTheKernelLacksIsNaWithTheReasonUnderEachTable) {
  const auto results = without_shared_memory();
  for (const auto& text : {table2_text(results), table1_text(results)}) {
    auto lines = lines_of(text);
    EXPECT_NE(lines[3].find("| 10.00 / 20.00 | n/a      |"), std::string::npos) << text;
    EXPECT_EQ(lines.back(), "shmem_zc: n/a: kernel 6.12.48+deb12-amd64 lacks UBLK_F_SHMEM_ZC (Linux 7.1+)")
        << text;
  }
  // A column with figures in some rows has its gaps, and no reason line.
  EXPECT_EQ(table2_text(full_results()).find(": n/a:"), std::string::npos);
  // Nor has a column left out on purpose (--mode, --only).
  Results left_out;
  for (const auto& c : all_cells()) left_out.add(summarize(c, {}, std::string(kNotRun)));
  EXPECT_EQ(table2_text(left_out).find(": n/a:"), std::string::npos);
}

TEST(Report, Table1MarksCellsThatWereNotMeasured) {
  auto text = table1_text(full_results());
  auto lines = lines_of(text);
  ASSERT_EQ(lines.size(), 5u) << text;
  EXPECT_NE(text.find("baseline (old code) -> copy --no-data"), std::string::npos);
  EXPECT_EQ(lines[3].rfind("| write ", 0), 0u);
  EXPECT_NE(lines[3].find("| 1.33 "), std::string::npos) << lines[3];  // get_data 12 / copy 9
  EXPECT_NE(lines[3].find("| n/a "), std::string::npos) << lines[3];
  EXPECT_EQ(lines[4].rfind("| randwrite ", 0), 0u);
  // randwrite shares Table 2's 4k cells: copy 13, get_data 24.
  EXPECT_NE(lines[4].find("| 1.85 "), std::string::npos) << lines[4];
}

TEST(Report, HeaderSaysWhereItRan) {
  Report r;
  r.env = {false, "7.3.4+deb13-amd64", "2026-11-25T10:00:00Z", false};
  r.settings = {3, 2.0, 0.5, "512K"};
  auto vm = header_text(r);
  EXPECT_NE(vm.find("VM (qemu, kernel 7.3.4+deb13-amd64). TCG emulation: compare ratios, not absolute latencies"),
            std::string::npos) << vm;
  r.env.native = true;
  auto native = header_text(r);
  EXPECT_NE(native.find("native, kernel 7.3.4+deb13-amd64"), std::string::npos);
  EXPECT_EQ(native.find("TCG"), std::string::npos);
  r.env.dry_run = true;
  EXPECT_NE(header_text(r).find("DRY RUN"), std::string::npos);
}

TEST(Report, MeasuredCrossoverIsWhereGetDataStaysAhead) {
  EXPECT_EQ(measured_crossover(full_results()), 64 * KiB);
  Results never = testing::table2_scaled(1, 2, 2, 1);
  EXPECT_EQ(measured_crossover(never), std::nullopt);
}

TEST(Report, CsvHasOneLinePerCellAndQuotesErrors) {
  auto results = full_results();
  results.add(summarize({"randwrite", 4 * KiB, Mode::Copy}, {}, "daemon said \"no\", then left"));
  auto lines = lines_of(results_csv(results));
  ASSERT_EQ(lines.size(), 1 + results.cells().size());
  EXPECT_EQ(lines[0], "rw,block_size,bytes,mode,label,reps,p50_us,p99_us,mean_us,iops,copies_per_write_byte,error");
  EXPECT_EQ(lines[1], "randwrite,4k,4096,copy_app_copy,copy --app-copy,1,18.000,38.000,18.000,55555.556,,");
  EXPECT_EQ(lines.back(), "randwrite,4k,4096,copy,copy,0,,,,,,\"daemon said \"\"no\"\", then left\"");
}

TEST(Report, CopiesLineGivesEachModesRangeAsTheDaemonsCounted) {
  Results results;
  results.add(summarize({"randwrite", 4 * KiB, Mode::AppCopy}, {testing::run_with(10, 20)}, "", {2.0, 1.999}));
  results.add(summarize({"randwrite", 64 * KiB, Mode::AppCopy}, {testing::run_with(10, 20)}, "", {1.95}));
  results.add(summarize({"randwrite", 4 * KiB, Mode::GetData}, {testing::run_with(10, 20)}, "", {1.0}));
  results.add(summarize({"randwrite", 4 * KiB, Mode::Copy}, {testing::run_with(10, 20)}));
  EXPECT_EQ(results.cells()[0].copies_per_write_byte, 1.9995);  // the median of two
  EXPECT_EQ(copies_text(results),
            "Copies per WRITE byte, as the daemons counted them (kernel + userspace): "
            "copy --app-copy 1.95-2.00, get_data 1.00.\n");
  EXPECT_EQ(copies_text(Results{}),
            "Copies per WRITE byte, as the daemons counted them (kernel + userspace): not reported.\n");
}

TEST(Report, JsonHasEveryRowAndColumn) {
  Report r;
  r.env = {false, "6.12.48+deb12-amd64", "2026-11-25T10:00:00Z", false};
  r.settings = {1, 1.0, 0.3, "512K"};
  r.results = full_results();
  r.cost_model = CostModel{{{4096, 0.2}, {8192, 1.0}}, 0.6};
  auto j = report_json(r);
  EXPECT_EQ(j["environment"]["where"], "vm");
  EXPECT_EQ(j["environment"]["tcg"], true);
  ASSERT_EQ(j["table2"].size(), kTable2BlockSizes.size());
  for (const auto& row : j["table2"]) {
    for (auto mode : kTable2Modes) {
      const auto& cell = row["modes"][std::string(info(mode).key)];
      ASSERT_TRUE(cell.is_object()) << row.dump();
      EXPECT_GE(cell["p99_us"].get<double>(), cell["p50_us"].get<double>());
    }
    EXPECT_TRUE(row["ratio_2memcpy_over_get_data"].is_number());
    EXPECT_TRUE(row["seed"].is_object());
  }
  ASSERT_EQ(j["table1"].size(), 2u);
  EXPECT_TRUE(j["table1"][1]["modes"]["user_copy"].is_object());   // shared with Table 2
  EXPECT_TRUE(j["table1"][1]["modes"]["copy_no_data"].is_object());
  EXPECT_EQ(j["recommendation"]["line"], "4k: copy --app-copy; 64k-128k: get_data; 256k-1m: shmem_zc");
  EXPECT_EQ(j["measured_crossover"], "64k");
  EXPECT_DOUBLE_EQ(j["cost_model"]["predicted_crossover_bytes"].get<double>(), 6144);
}

TEST(Report, PlotDataHasAColumnPairPerModeAndNaNForGaps) {
  Results results;
  add(results, "randwrite", 4 * KiB, Mode::GetData, 10, 20);
  auto lines = lines_of(plot_data(results));
  ASSERT_EQ(lines.size(), 1 + kTable2BlockSizes.size());
  EXPECT_EQ(lines[1], "4 NaN NaN 10.000 20.000 NaN NaN NaN NaN NaN NaN");
  EXPECT_EQ(lines[6], "1024 NaN NaN NaN NaN NaN NaN NaN NaN NaN NaN");
}

TEST(Report, PlotScriptWritesThePngAndPlotsEveryMode) {
  Report r;
  r.env = {false, "7.3.4+deb13-amd64", "", false};
  auto script = plot_script(r, "/out/latency.dat", "/out/latency.png");
  EXPECT_NE(script.find("set terminal png"), std::string::npos);
  EXPECT_NE(script.find("set output '/out/latency.png'"), std::string::npos);
  for (auto mode : kTable2Modes) {
    EXPECT_NE(script.find("title '" + std::string(info(mode).label) + " ("), std::string::npos);
  }
  // A quote in a legend is doubled, as gnuplot's single-quoted strings want it.
  EXPECT_NE(script.find("title 'shmem_zc (0 memcpy: fio''s pages in place)'"), std::string::npos) << script;
  EXPECT_NE(script.find("compare ratios"), std::string::npos);
}

}  // namespace
}  // namespace mvg
