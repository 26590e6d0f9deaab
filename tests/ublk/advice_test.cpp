// `ublk-pool tune`'s logic on two recorded workloads (tests/ublk/fixtures/README.md) and on
// made-up ones that isolate one rule each.
#include "advice.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "ublk/features.hpp"

namespace ublk::cli {
namespace {

const std::filesystem::path kFixtures = UBLK_TEST_FIXTURES;

RunSummary recorded(const std::string& name) {
  std::ifstream in(kFixtures / name);
  std::ostringstream text;
  text << in.rdbuf();
  return summary_from_json(nlohmann::json::parse(text.str()));
}

const AdviceLine& line(const Advice& advice, const std::string& setting) {
  for (const auto& l : advice.lines) {
    if (l.setting == setting) return l;
  }
  static const AdviceLine none{"", "(missing)", ""};
  ADD_FAILURE() << "no advice on " << setting;
  return none;
}

std::uint64_t size_of(const std::string& text) {
  std::uint64_t n = std::stoull(text);
  switch (text.back()) {
    case 'G': return n << 30;
    case 'M': return n << 20;
    case 'K': return n << 10;
    default: return n;
  }
}

TEST(Advice, TheRecordedWorkloadsAreWhatTheirNamesSay) {
  const RunSummary small = recorded("stats-rand4k.json");
  const RunSummary large = recorded("stats-seq1m.json");
  const unsigned k4 = SizeHistogram::bucket_of(4096);
  const unsigned m1 = SizeHistogram::bucket_of(1 << 20);
  EXPECT_GT(small.io.sizes.count(k4), small.io.sizes.total() * 9 / 10);
  EXPECT_GT(large.io.sizes.count(m1), large.io.sizes.total() * 9 / 10);
  EXPECT_GT(small.io.reads, 0u);
  EXPECT_GT(large.io.writes, 0u);
}

TEST(Advice, ModeFollowsTheMeasuredRangeOfEachWorkloadsSizes) {
  const auto evidence = load_mode_evidence(kFixtures / "bench-results");
  ASSERT_TRUE(evidence);
  ASSERT_EQ(evidence->ranges.size(), 2u);
  const Advice small = advise(recorded("stats-rand4k.json"), evidence);
  const Advice large = advise(recorded("stats-seq1m.json"), evidence);
  // The bench measured copy (with the application's copy) fastest at 4k, user_copy from 64k.
  EXPECT_EQ(line(small, "mode").value, "copy");
  EXPECT_NE(line(small, "mode").reason.find("are <= 4K"), std::string::npos) << line(small, "mode").reason;
  EXPECT_EQ(line(large, "mode").value, "user_copy");
  EXPECT_NE(line(large, "mode").reason.find("are <= 1M"), std::string::npos) << line(large, "mode").reason;
}

TEST(Advice, PoolLimitFollowsEachWorkloadsBuffers) {
  const auto evidence = load_mode_evidence(kFixtures / "bench-results");
  const RunSummary small_stats = recorded("stats-rand4k.json");
  const RunSummary large_stats = recorded("stats-seq1m.json");
  const Advice small = advise(small_stats, evidence);
  const Advice large = advise(large_stats, evidence);
  // Copy mode: every tag owns a max-IO buffer.
  EXPECT_EQ(size_of(line(small, "pool-limit").value),
            std::uint64_t{small_stats.shape.queues} * small_stats.shape.depth * small_stats.shape.max_io_bytes);
  // user_copy: the peak the daemon saw, with a quarter on top, in whole MiB.
  const std::uint64_t limit = size_of(line(large, "pool-limit").value);
  EXPECT_GE(limit, large_stats.pool.bytes_peak * 5 / 4);
  EXPECT_LT(limit, large_stats.pool.bytes_peak * 5 / 4 + (1 << 20));
  EXPECT_NE(line(large, "pool-limit").reason.find("peak in use"), std::string::npos);
}

TEST(Advice, WithoutBenchResultsTheCostModelCrossoverDecides) {
  char pattern[] = "/tmp/advice_test.XXXXXX";
  ASSERT_NE(::mkdtemp(pattern), nullptr);
  const std::filesystem::path dir = pattern;
  std::filesystem::copy_file(std::filesystem::path(MVG_TEST_FIXTURES) / "cost_model.json", dir / "cost_model.json");
  const auto evidence = load_mode_evidence(dir);
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(evidence && evidence->crossover_bytes);
  EXPECT_TRUE(evidence->ranges.empty());
  for (const char* name : {"stats-rand4k.json", "stats-seq1m.json"}) {
    const RunSummary stats = recorded(name);
    const double median = stats.io.sizes.count(SizeHistogram::bucket_of(4096)) * 2 > stats.io.sizes.total() ? 4096 : 1 << 20;
    const Advice advice = advise(stats, evidence);
    EXPECT_EQ(line(advice, "mode").value, median >= *evidence->crossover_bytes ? "get_data" : "copy") << name;
    EXPECT_NE(line(advice, "mode").reason.find("cost model"), std::string::npos);
  }
}

TEST(Advice, NoEvidenceKeepsTheModeAndSaysWhy) {
  const RunSummary stats = recorded("stats-seq1m.json");
  const Advice advice = advise(stats, std::nullopt);
  EXPECT_EQ(line(advice, "mode").value, std::string(to_string(stats.mode)));
  EXPECT_NE(line(advice, "mode").reason.find("no memcpy_vs_getdata result"), std::string::npos);
}

TEST(Advice, AModeTheKernelLacksFallsBackToCopy) {
  RunSummary stats = recorded("stats-seq1m.json");
  stats.kernel_features &= ~(std::uint64_t{1} << *ublk::feature_bit("USER_COPY"));
  const Advice advice = advise(stats, load_mode_evidence(kFixtures / "bench-results"));
  EXPECT_EQ(line(advice, "mode").value, "copy");
  EXPECT_NE(line(advice, "mode").reason.find("lacks USER_COPY"), std::string::npos);
}

RunSummary made_up(std::uint64_t request, unsigned n) {
  RunSummary s;
  s.device = "/dev/ublkb0";
  s.target = "null";
  s.mode = Mode::kGetData;
  s.kernel_features = (std::uint64_t{1} << *ublk::feature_bit("NEED_GET_DATA")) | (std::uint64_t{1} << *ublk::feature_bit("USER_COPY"));
  s.shape = {0, 1, 128, 1U << 20, 1ULL << 30, 512, 1, 0};
  for (unsigned i = 0; i < n; ++i) s.io.sizes.add(request);
  s.io.writes = n;
  s.io.write_bytes = request * n;
  s.pool.buffers_peak = 16;
  s.pool.bytes_peak = 16 * request;
  return s;
}

TEST(Waste, StepsOneIsExactAndPowerOfTwoRequestsWasteNothing) {
  const auto waste = waste_by_steps(made_up(64 << 10, 100).io, 1U << 20);
  ASSERT_EQ(waste.size(), 8u);
  for (const auto& w : waste) {
    EXPECT_TRUE(w.exact) << "requested bytes = the buckets' tops: the sizes are known";
    EXPECT_EQ(w.waste, 0u) << w.steps;
    EXPECT_EQ(w.allocated, 100u * (64 << 10));
  }
  const Advice advice = advise(made_up(64 << 10, 100), std::nullopt);
  EXPECT_EQ(line(advice, "pool-steps").value, "1");
}

TEST(Waste, RequestsBetweenPowersOfTwoAreWorthMoreSteps) {
  const RunSummary stats = made_up(48 << 10, 100);  // 48K: a 64K buffer each at steps 1
  const auto waste = waste_by_steps(stats.io, 1U << 20);
  EXPECT_TRUE(waste[0].exact);
  EXPECT_EQ(waste[0].waste, 100u * (16 << 10));
  EXPECT_FALSE(waste[1].exact) << "within the bucket the sizes are not known";
  EXPECT_LT(waste[1].waste, waste[0].waste);
  const Advice advice = advise(stats, std::nullopt);
  EXPECT_NE(line(advice, "pool-steps").value, "1");
  EXPECT_NE(line(advice, "pool-steps").reason.find("estimated"), std::string::npos);
  EXPECT_NE(line(advice, "pool-steps").reason.find("25.0%"), std::string::npos) << line(advice, "pool-steps").reason;
}

TEST(Advice, WaitsUnderALimitRaiseItAndFullQueuesDoubleTheDepth) {
  RunSummary stats = made_up(64 << 10, 1000);
  stats.shape.pool_limit = 8 << 20;
  stats.io.exhaustion_waits = 40;
  stats.pool.buffers_peak = 128;
  stats.pool.bytes_peak = 128 * (64 << 10);
  const Advice advice = advise(stats, std::nullopt);
  EXPECT_EQ(size_of(line(advice, "pool-limit").value), 12u << 20);
  EXPECT_NE(line(advice, "pool-limit").reason.find("40 requests waited"), std::string::npos);
  EXPECT_EQ(line(advice, "depth").value, "256");
  EXPECT_TRUE(advice.shape_changes);
  const std::string text = format_advice(advice, stats, "ublk-pool-null");
  EXPECT_NE(text.find("ublk-pool-null --mode get_data --pool-steps 1 --pool-limit 12M --queues 1 --depth 256"),
            std::string::npos)
      << text;
}

TEST(Advice, ZeroCopyStaysAndOnlyTheLoopTargetIsPointedToIt) {
  RunSummary stats = made_up(64 << 10, 100);
  stats.kernel_features |= std::uint64_t{1} << *ublk::feature_bit("AUTO_BUF_REG");
  EXPECT_NE(line(advise(stats, std::nullopt), "zero-copy").reason.find("only the loop target"), std::string::npos);
  stats.target = "loop";
  EXPECT_NE(line(advise(stats, std::nullopt), "zero-copy").reason.find("--mode zero_copy"), std::string::npos);
  stats.mode = Mode::kZeroCopy;
  stats.pool = {};
  const Advice advice = advise(stats, std::nullopt);
  EXPECT_EQ(line(advice, "mode").value, "zero_copy");
  EXPECT_NE(line(advice, "pool").reason.find("no pool buffer"), std::string::npos);
  EXPECT_FALSE(advice.shape_changes);
  const std::vector<std::string> flags = {"--mode", "zero_copy", "--queues", "1", "--depth", "128"};
  EXPECT_EQ(advice.restart_flags, flags);
}

TEST(Advice, NothingSeenNothingAdvised) {
  RunSummary stats = made_up(4096, 0);
  const Advice advice = advise(stats, std::nullopt);
  ASSERT_EQ(advice.lines.size(), 1u);
  EXPECT_TRUE(advice.restart_flags.empty());
}

}  // namespace
}  // namespace ublk::cli
