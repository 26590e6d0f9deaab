#include "report.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace ublk::cli {
namespace {

RunSummary sample() {
  RunSummary s;
  s.device = "/dev/ublkb3";
  s.target = "mem";
  s.mode = Mode::kGetData;
  s.provider = "pool";
  s.app_copy = true;
  s.io.writes = 3;
  s.io.write_bytes = 3 * 4096;
  s.io.reads = 1;
  s.io.read_bytes = 4096;
  s.io.get_data = 3;
  s.io.userspace_copy_bytes = 2 * 3 * 4096;
  s.io.enomem = 1;
  s.io.errors = 1;
  for (int i = 0; i < 4; ++i) s.io.sizes.add(4096);
  pool::ProviderStats ps;
  ps.provider = "pool";
  ps.classes.push_back({4096, 10, 2, 0, 3});
  ps.classes.push_back({8192, 5, 1, 0, 1});
  s.provider_stats = ps;
  return s;
}

TEST(Report, JsonCarriesTheCountsTheHistogramAndTheCopyRatio) {
  const auto j = nlohmann::json::parse(report_json(sample()));
  EXPECT_EQ(j["device"], "/dev/ublkb3");
  EXPECT_EQ(j["mode"], "get_data");
  EXPECT_EQ(j["ios"]["writes"], 3);
  EXPECT_EQ(j["ios"]["get_data"], 3);
  EXPECT_EQ(j["ios"]["enomem"], 1);
  EXPECT_EQ(j["provider_stats"]["hits"], 15);
  EXPECT_EQ(j["provider_stats"]["misses"], 3);
  EXPECT_DOUBLE_EQ(j["copies"]["userspace_per_write_byte"].get<double>(), 2.0);
  bool found = false;
  for (const auto& bucket : j["request_sizes"]) {
    if (bucket["le"] == "4K") {
      EXPECT_EQ(bucket["count"], 4);
      found = true;
    }
  }
  EXPECT_TRUE(found);
}

TEST(Report, TextNamesTheSameFacts) {
  const std::string text = report_text(sample());
  EXPECT_NE(text.find("/dev/ublkb3 removed"), std::string::npos);
  EXPECT_NE(text.find("mode get_data"), std::string::npos);
  EXPECT_NE(text.find("<=4K:4"), std::string::npos);
  EXPECT_NE(text.find("hits 15, misses 3"), std::string::npos);
  EXPECT_NE(text.find("per WRITE byte: 2.000"), std::string::npos);
}

}  // namespace
}  // namespace ublk::cli
