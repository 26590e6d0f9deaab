// The Prometheus text exposition format (0.0.4), checked line by line as a scraper would.
#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "report.hpp"

namespace ublk::cli {
namespace {

RunSummary workload() {
  RunSummary s;
  s.state = SummaryState::kLive;
  s.device = "/dev/ublkb0";
  s.target = "null";
  s.mode = Mode::kGetData;
  s.provider = "pool \"main\"";  // a label value that needs escaping
  for (int i = 0; i < 7; ++i) s.io.sizes.add(4096);
  for (int i = 0; i < 5; ++i) s.io.sizes.add(65536);
  s.io.reads = 4;
  s.io.writes = 8;
  s.io.read_bytes = 4 * 4096;
  s.io.write_bytes = 3 * 4096 + 5 * 65536;
  s.queues = {s.io};
  return s;
}

struct Parsed {
  std::map<std::string, std::string> types;
  std::vector<std::pair<std::string, double>> samples;  // "name{labels}" -> value
};

// Fails the test at the first line a strict parser would reject.
Parsed parse(const std::string& text) {
  static const std::regex comment(R"(^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$)");
  static const std::regex sample(
      R"re(^([a-zA-Z_:][a-zA-Z0-9_:]*)\{([a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*")*)\} (-?[0-9.eE+]+|\+Inf|NaN)$)re");
  Parsed p;
  std::set<std::string> finished;
  std::string current;
  std::istringstream in(text);
  std::string line;
  EXPECT_EQ(text.back(), '\n');
  while (std::getline(in, line)) {
    std::smatch m;
    if (std::regex_match(line, m, comment)) {
      if (m[1] == "TYPE") {
        EXPECT_FALSE(p.types.count(m[2])) << "second TYPE: " << line;
        EXPECT_TRUE(m[3] == "counter" || m[3] == "gauge" || m[3] == "histogram") << line;
        p.types[m[2]] = m[3];
      }
      continue;
    }
    EXPECT_TRUE(std::regex_match(line, m, sample)) << "not a sample: " << line;
    if (m.empty()) continue;
    std::string family = m[1];
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      const std::string sfx(suffix);
      if (family.size() > sfx.size() && family.ends_with(sfx) && p.types.count(family.substr(0, family.size() - sfx.size()))) {
        family.resize(family.size() - sfx.size());
      }
    }
    EXPECT_TRUE(p.types.count(family)) << "sample before its TYPE: " << line;
    if (family != current) {
      EXPECT_FALSE(finished.count(family)) << "family split: " << line;
      if (!current.empty()) finished.insert(current);
      current = family;
    }
    if (p.types[family] == "counter") {
      EXPECT_TRUE(family.ends_with("_total")) << line;
    }
    p.samples.emplace_back(std::string(m[1]) + "{" + std::string(m[2]) + "}", std::stod(m[3]));
  }
  return p;
}

double value_of(const Parsed& p, const std::string& key) {
  for (const auto& [k, v] : p.samples) {
    if (k == key) return v;
  }
  ADD_FAILURE() << "no sample " << key;
  return -1;
}

TEST(Prometheus, EveryLineParsesAndEveryFamilyIsTypedOnce) {
  const Parsed p = parse(report_prometheus(workload()));
  EXPECT_EQ(p.types.at("ublkpool_request_size_bytes"), "histogram");
  EXPECT_EQ(p.types.at("ublkpool_requests_total"), "counter");
  EXPECT_EQ(p.types.at("ublkpool_pool_bytes_in_use"), "gauge");
  EXPECT_GT(p.samples.size(), 30u);
}

TEST(Prometheus, TheHistogramIsCumulativeAndEndsAtItsCount) {
  const Parsed p = parse(report_prometheus(workload()));
  const std::string dev = "device=\"/dev/ublkb0\"";
  EXPECT_EQ(value_of(p, "ublkpool_request_size_bytes_bucket{" + dev + ",le=\"2048\"}"), 0);
  EXPECT_EQ(value_of(p, "ublkpool_request_size_bytes_bucket{" + dev + ",le=\"4096\"}"), 7);
  EXPECT_EQ(value_of(p, "ublkpool_request_size_bytes_bucket{" + dev + ",le=\"32768\"}"), 7);
  EXPECT_EQ(value_of(p, "ublkpool_request_size_bytes_bucket{" + dev + ",le=\"65536\"}"), 12);
  EXPECT_EQ(value_of(p, "ublkpool_request_size_bytes_bucket{" + dev + ",le=\"+Inf\"}"), 12);
  EXPECT_EQ(value_of(p, "ublkpool_request_size_bytes_count{" + dev + "}"), 12);
  EXPECT_EQ(value_of(p, "ublkpool_request_size_bytes_sum{" + dev + "}"), 7 * 4096 + 5 * 65536);
  double previous = 0;
  for (const auto& [key, v] : p.samples) {
    if (key.rfind("ublkpool_request_size_bytes_bucket", 0) != 0) continue;
    EXPECT_GE(v, previous) << key;
    previous = v;
  }
}

TEST(Prometheus, BackendLatencyIsAHistogramInSecondsOnlyWhereTimed) {
  RunSummary s = workload();
  EXPECT_EQ(report_prometheus(s).find("backend_latency"), std::string::npos);  // the null target: none
  for (int i = 0; i < 3; ++i) s.io.backend_latency_us.add(100);  // <= 128 us
  s.io.backend_latency_us.add(3000);                              // <= 4096 us
  s.io.backend_latency_ns = 3 * 100'000 + 3'000'000;
  const Parsed p = parse(report_prometheus(s));
  EXPECT_EQ(p.types.at("ublkpool_backend_latency_seconds"), "histogram");
  const std::string dev = "device=\"/dev/ublkb0\"";
  EXPECT_EQ(value_of(p, "ublkpool_backend_latency_seconds_bucket{" + dev + ",le=\"6.4e-05\"}"), 0);
  EXPECT_EQ(value_of(p, "ublkpool_backend_latency_seconds_bucket{" + dev + ",le=\"0.000128\"}"), 3);
  EXPECT_EQ(value_of(p, "ublkpool_backend_latency_seconds_bucket{" + dev + ",le=\"0.004096\"}"), 4);
  EXPECT_EQ(value_of(p, "ublkpool_backend_latency_seconds_bucket{" + dev + ",le=\"+Inf\"}"), 4);
  EXPECT_EQ(value_of(p, "ublkpool_backend_latency_seconds_count{" + dev + "}"), 4);
  EXPECT_DOUBLE_EQ(value_of(p, "ublkpool_backend_latency_seconds_sum{" + dev + "}"), 0.0033);
}

TEST(Prometheus, CountersByOpAndEscapedLabels) {
  const std::string text = report_prometheus(workload());
  const Parsed p = parse(text);
  EXPECT_EQ(value_of(p, "ublkpool_requests_total{device=\"/dev/ublkb0\",op=\"write\"}"), 8);
  EXPECT_EQ(value_of(p, "ublkpool_bytes_total{device=\"/dev/ublkb0\",op=\"read\"}"), 4 * 4096);
  EXPECT_EQ(value_of(p, "ublkpool_queue_requests_total{device=\"/dev/ublkb0\",queue=\"0\",op=\"read\"}"), 4);
  EXPECT_NE(text.find(R"(provider="pool \"main\"")"), std::string::npos);
}

}  // namespace
}  // namespace ublk::cli
