#include "mvg/cost_model.hpp"

#include <algorithm>
#include <cstdio>

#include <nlohmann/json.hpp>

namespace mvg {
namespace {

constexpr std::string_view kMemcpyPrefix = "memcpy/";
constexpr std::string_view kRoundTrip = "io_uring_nop_round_trip";

double to_us(double value, const std::string& unit) {
  if (unit == "ns") return value / 1e3;
  if (unit == "us") return value;
  if (unit == "ms") return value * 1e3;
  if (unit == "s") return value * 1e6;
  throw CostModelError("cost model: unknown time unit \"" + unit + "\"");
}

std::string kib(double bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f KiB", bytes / 1024);
  return buf;
}

}  // namespace

CostModel parse_cost_model_json(std::string_view text) {
  auto doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.contains("benchmarks")) {
    throw CostModelError("cost model: not Google Benchmark JSON");
  }
  CostModel model;
  bool have_round_trip = false;
  for (const auto& b : doc["benchmarks"]) {
    // Aggregates (mean/median/stddev of repetitions) would count a case twice.
    if (b.value("run_type", std::string("iteration")) != "iteration") continue;
    auto name = b.value("name", std::string{});
    // CPU time: on a shared host the wall time also counts the time the benchmark was preempted.
    auto us = to_us(b.value("cpu_time", 0.0), b.value("time_unit", std::string("ns")));
    if (name.starts_with(kMemcpyPrefix)) {
      model.memcpy.push_back({std::stoull(name.substr(kMemcpyPrefix.size())), us});
    } else if (name == kRoundTrip) {
      model.round_trip_us = us;
      have_round_trip = true;
    }
  }
  if (model.memcpy.empty()) throw CostModelError("cost model: no memcpy/<bytes> case");
  if (!have_round_trip) throw CostModelError("cost model: no io_uring_nop_round_trip case");
  std::sort(model.memcpy.begin(), model.memcpy.end(),
            [](const MemcpyPoint& a, const MemcpyPoint& b) { return a.block_size < b.block_size; });
  return model;
}

Crossover predict_crossover(const CostModel& model) {
  const auto& pts = model.memcpy;
  const double rt = model.round_trip_us;
  if (pts.empty()) throw CostModelError("cost model: no memcpy points");
  if (pts.front().us >= rt) {
    return {Crossover::Where::BelowSmallest, static_cast<double>(pts.front().block_size)};
  }
  for (std::size_t i = 1; i < pts.size(); ++i) {
    if (pts[i].us >= rt) {
      const auto& lo = pts[i - 1];
      const auto& hi = pts[i];
      double fraction = (rt - lo.us) / (hi.us - lo.us);
      double bs = static_cast<double>(lo.block_size) +
                  fraction * static_cast<double>(hi.block_size - lo.block_size);
      return {Crossover::Where::Between, bs};
    }
  }
  return {Crossover::Where::AboveLargest, static_cast<double>(pts.back().block_size)};
}

std::string describe(const Crossover& crossover, const CostModel& model) {
  char rt[32];
  std::snprintf(rt, sizeof rt, "%.2f us", model.round_trip_us);
  std::string why = " (memcpy(bs) > one io_uring round trip of " + std::string(rt) + ")";
  switch (crossover.where) {
    case Crossover::Where::BelowSmallest:
      return "get_data beats 2-memcpy at every measured size, from " + kib(crossover.block_size) +
             " or below" + why;
    case Crossover::Where::AboveLargest:
      return "get_data never beats 2-memcpy up to " + kib(crossover.block_size) + why;
    case Crossover::Where::Between:
      break;
  }
  return "get_data beats 2-memcpy from ~" + kib(crossover.block_size) + why;
}

}  // namespace mvg
