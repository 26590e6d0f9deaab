#include "mvg/cost_model.hpp"

#include <gtest/gtest.h>

#include "fixture.hpp"


namespace mvg {
namespace {

using testing::fixture;

CostModel model(std::vector<MemcpyPoint> points, double round_trip_us) {
  return CostModel{std::move(points), round_trip_us};
}

TEST(CostModel, ReadsCostModelsGoogleBenchmarkJson) {
  auto m = parse_cost_model_json(fixture("cost_model.json"));
  ASSERT_EQ(m.memcpy.size(), 9u);  // 4k, 8k, ... 1m
  EXPECT_EQ(m.memcpy.front().block_size, 4096u);
  EXPECT_EQ(m.memcpy.back().block_size, 1048576u);
  EXPECT_NEAR(m.memcpy.front().us, 1.0745657973104283, 1e-12);  // cpu_time, not real_time
  EXPECT_NEAR(m.memcpy.back().us, 202.65732676056413, 1e-12);
  EXPECT_NEAR(m.round_trip_us, 0.5892534319769841, 1e-12);
}

TEST(CostModel, ConvertsTimeUnits) {
  auto m = parse_cost_model_json(R"({"benchmarks": [
    {"name": "memcpy/65536", "run_type": "iteration", "real_time": 99999, "cpu_time": 12000, "time_unit": "ns"},
    {"name": "memcpy/4096", "run_type": "iteration", "cpu_time": 0.001, "time_unit": "ms"},
    {"name": "memcpy/4096_mean", "run_type": "aggregate", "cpu_time": 99, "time_unit": "ms"},
    {"name": "io_uring_nop_round_trip", "run_type": "iteration", "cpu_time": 300, "time_unit": "ns"}]})");
  ASSERT_EQ(m.memcpy.size(), 2u);
  EXPECT_EQ(m.memcpy[0].block_size, 4096u);  // sorted
  EXPECT_DOUBLE_EQ(m.memcpy[0].us, 1.0);
  EXPECT_DOUBLE_EQ(m.memcpy[1].us, 12.0);
  EXPECT_DOUBLE_EQ(m.round_trip_us, 0.3);
}

TEST(CostModel, RefusesJsonWithoutBothCosts) {
  EXPECT_THROW(parse_cost_model_json("not json"), CostModelError);
  EXPECT_THROW(parse_cost_model_json(R"({"benchmarks": [{"name": "memcpy/4096", "cpu_time": 1, "time_unit": "us"}]})"),
               CostModelError);
  EXPECT_THROW(parse_cost_model_json(R"({"benchmarks": [{"name": "io_uring_nop_round_trip", "cpu_time": 1, "time_unit": "us"}]})"),
               CostModelError);
}

TEST(Crossover, InterpolatesBetweenTheSizesAroundTheRoundTrip) {
  // memcpy costs 0.2 us at 4k and 1.0 us at 8k; a 0.6 us round trip is halfway: 6 KiB.
  auto c = predict_crossover(model({{4096, 0.2}, {8192, 1.0}, {16384, 2.0}}, 0.6));
  EXPECT_EQ(c.where, Crossover::Where::Between);
  EXPECT_DOUBLE_EQ(c.block_size, 6144);
  EXPECT_NE(describe(c, model({{4096, 0.2}}, 0.6)).find("~6.0 KiB"), std::string::npos);
}

TEST(Crossover, BelowTheSmallestSizeWhenEvenItsMemcpyCostsMore) {
  auto c = predict_crossover(model({{4096, 1.6}, {8192, 3.0}}, 0.9));
  EXPECT_EQ(c.where, Crossover::Where::BelowSmallest);
  EXPECT_DOUBLE_EQ(c.block_size, 4096);
}

TEST(Crossover, AboveTheLargestSizeWhenNoMemcpyCostsARoundTrip) {
  auto c = predict_crossover(model({{4096, 0.1}, {1048576, 40}}, 50));
  EXPECT_EQ(c.where, Crossover::Where::AboveLargest);
  EXPECT_NE(describe(c, model({{4096, 0.1}}, 50)).find("never"), std::string::npos);
}

}  // namespace
}  // namespace mvg
