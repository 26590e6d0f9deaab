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
  s.io.userspace_read_copy_bytes = 1024;
  s.io.enomem = 1;
  s.io.errors = 1;
  for (int i = 0; i < 4; ++i) s.io.sizes.add(4096);
  pool::ProviderStats ps;
  ps.provider = "pool";
  ps.classes.push_back({4096, 10, 2, 0, 3});
  ps.classes.push_back({8192, 5, 1, 0, 1});
  ps.bytes_in_use = 8192;
  s.pool = pool_figures(ps);
  s.shape = {3, 2, 64, 1U << 20, 1ULL << 30, 512, 2, 64ULL << 20};
  s.kernel_features = 0x7;
  s.granted_flags = 0x4;
  s.uptime_s = 12.5;
  s.queues = {s.io, IoStats{}};
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

TEST(Report, PoolFiguresSumTheClasses) {
  const PoolFigures f = sample().pool;
  EXPECT_EQ(f.hits, 15u);
  EXPECT_EQ(f.misses, 3u);
  EXPECT_EQ(f.buffers_peak, 4u);
  EXPECT_EQ(f.bytes_peak, 3u * 4096 + 8192);
  EXPECT_EQ(f.bytes_in_use, 8192u);
  EXPECT_EQ(pool_figures(std::nullopt).bytes_peak, 0u);
}

TEST(ReportSchema, CarriesItsNameAndVersionAndTheKeysTheBenchReads) {
  const auto j = nlohmann::json::parse(report_json(sample()));
  EXPECT_EQ(j["schema"], "ublk-pool-stats");
  EXPECT_EQ(j["version"], kStatsSchemaVersion);
  EXPECT_EQ(j["state"], "final");
  // bench/memcpy_vs_getdata/core (daemon_stats.cpp) reads these.
  EXPECT_TRUE(j["copies"]["kernel_bytes"].is_number());
  EXPECT_TRUE(j["copies"]["userspace_bytes"].is_number());
  EXPECT_TRUE(j["ios"]["write_bytes"].is_number());
  EXPECT_TRUE(j["ios"]["read_bytes"].is_number());
  EXPECT_TRUE(j["zero_copy"].is_null());  // only a zero_copy device fills it
  EXPECT_EQ(j["copies"]["kernel_per_byte"], kernel_copies_per_byte(sample().io));
  EXPECT_EQ(j["queues"].size(), 2u);
  EXPECT_EQ(j["queues"][0]["ios"]["writes"], 3);
}

TEST(ReportSchema, ReadsBackWhatItWrote) {
  const RunSummary in = sample();
  const RunSummary out = summary_from_json(report_json_value(in));
  EXPECT_EQ(out.device, in.device);
  EXPECT_EQ(out.mode, in.mode);
  EXPECT_EQ(out.shape.depth, 64u);
  EXPECT_EQ(out.shape.pool_steps, 2u);
  EXPECT_EQ(out.shape.pool_limit, 64ULL << 20);
  EXPECT_EQ(out.kernel_features, 0x7u);
  EXPECT_DOUBLE_EQ(out.uptime_s, 12.5);
  EXPECT_EQ(out.io.writes, 3u);
  EXPECT_EQ(out.io.kernel_copy_bytes, in.io.kernel_copy_bytes);
  EXPECT_EQ(out.io.userspace_copy_bytes, in.io.userspace_copy_bytes);
  EXPECT_EQ(out.io.userspace_read_copy_bytes, 1024u);
  for (unsigned b = 0; b < SizeHistogram::kBuckets; ++b) EXPECT_EQ(out.io.sizes.count(b), in.io.sizes.count(b)) << b;
  EXPECT_EQ(out.pool.bytes_peak, in.pool.bytes_peak);
  EXPECT_EQ(out.pool.buffers_peak, in.pool.buffers_peak);
  EXPECT_EQ(out.pool.hits, 15u);
  EXPECT_EQ(out.queues.size(), 2u);
  EXPECT_EQ(report_json(out), report_json(in));
}

TEST(ReportSchema, ZeroCopyCountsWhatWasServedFromTheRequestsPagesWithNoCopy) {
  RunSummary s = sample();
  s.target = "loop";
  s.mode = Mode::kZeroCopy;
  s.app_copy = false;
  s.io.userspace_copy_bytes = 0;
  s.io.zero_copy_ios = 4;
  s.io.zero_copy_bytes = 4 * 4096;
  const auto j = report_json_value(s);
  EXPECT_EQ(j["mode"], "zero_copy");
  EXPECT_EQ(j["zero_copy"]["ios"], 4);
  EXPECT_EQ(j["zero_copy"]["bytes"], 4 * 4096);
  EXPECT_EQ(j["copies"]["kernel_per_byte"], 0.0);
  const RunSummary back = summary_from_json(j);
  EXPECT_EQ(back.mode, Mode::kZeroCopy);
  EXPECT_EQ(back.io.zero_copy_bytes, 4u * 4096);
  const std::string text = report_text(s);
  EXPECT_NE(text.find("mode zero_copy"), std::string::npos) << text;
  EXPECT_NE(text.find("kernel 0 B (0.000 per byte)"), std::string::npos) << text;
  EXPECT_NE(text.find("zero copy: 4 IOs (16384 B)"), std::string::npos) << text;
}

TEST(ReportSchema, HandedOffBuffersAreCountedAndThoseStillHeldShown) {
  RunSummary in = sample();
  in.io.handed_off = 5;
  in.io.handed_back = 3;
  const auto j = report_json_value(in);
  EXPECT_EQ(j["buffers"]["handed_off"], 5);
  EXPECT_EQ(j["provider_stats"]["handed_off"], 2);  // still held
  EXPECT_NE(report_text(in).find("5 handed off, 2 still held"), std::string::npos);
  const RunSummary out = summary_from_json(j);
  EXPECT_EQ(out.io.handed_off, 5u);
  EXPECT_EQ(out.io.buffers_held(), 2u);
}

TEST(ReportSchema, BackendLatencyReadsBackAndTheTextGivesItsQuantiles) {
  RunSummary in = sample();
  EXPECT_EQ(report_text(in).find("backend latency"), std::string::npos);  // nothing timed: no line
  EXPECT_EQ(report_json_value(in)["backend_latency"]["p99_le_us"], 0);
  for (int i = 0; i < 98; ++i) in.io.backend_latency_us.add(30);  // <= 32 us
  for (int i = 0; i < 2; ++i) in.io.backend_latency_us.add(900);  // <= 1024 us
  in.io.backend_latency_ns = 98 * 30'000 + 2 * 900'000;
  const auto j = report_json_value(in);
  EXPECT_EQ(j["backend_latency"]["requests"], 100);
  EXPECT_EQ(j["backend_latency"]["p50_le_us"], 32);
  EXPECT_EQ(j["backend_latency"]["p99_le_us"], 1024);
  EXPECT_DOUBLE_EQ(j["backend_latency"]["mean_us"].get<double>(), 47.4);
  EXPECT_NE(report_text(in).find("backend latency: 100 requests, mean 47.4 us, p50 <= 32 us, p99 <= 1024 us"),
            std::string::npos)
      << report_text(in);
  const RunSummary out = summary_from_json(j);
  for (unsigned b = 0; b < LatencyHistogram::kBuckets; ++b) {
    EXPECT_EQ(out.io.backend_latency_us.count(b), in.io.backend_latency_us.count(b)) << b;
  }
  EXPECT_EQ(out.io.backend_latency_ns, in.io.backend_latency_ns);
}

TEST(ReportSchema, SharedMemoryZeroCopyIsReportedAndReadBack) {
  RunSummary in = sample();
  EXPECT_EQ(report_text(in).find("shared memory"), std::string::npos);  // none registered: no line
  in.io.shmem_zc_ios = 120;
  in.io.shmem_zc_bytes = 120 * 4096;
  in.io.shmem_fallback_ios = 8;
  const auto j = report_json_value(in);
  EXPECT_EQ(j["shmem_zc"]["ios"], 120);
  EXPECT_EQ(j["shmem_zc"]["bytes"], 120 * 4096);
  EXPECT_EQ(j["shmem_zc"]["fallback_ios"], 8);
  EXPECT_NE(report_text(in).find("shared memory: 120 IOs (491520 B) in place with no copy, 8 IOs the"),
            std::string::npos)
      << report_text(in);
  const RunSummary out = summary_from_json(j);
  EXPECT_EQ(out.io.shmem_zc_ios, 120u);
  EXPECT_EQ(out.io.shmem_fallback_ios, 8u);
  EXPECT_NE(report_prometheus(in).find("ublkpool_shmem_zc_requests_total{device=\"" + in.device +
                                       "\",path=\"in_place\"} 120"),
            std::string::npos);
}

TEST(ReportSchema, LargeCountsReadBackExactly) {
  RunSummary s = sample();
  auto j = report_json_value(s);
  j["request_sizes"][3]["count"] = 123456789012ULL;
  EXPECT_EQ(summary_from_json(j).io.sizes.count(3), 123456789012ULL);
}

TEST(ReportSchema, RefusesAnotherSchemaANewerVersionAndMissingKeys) {
  auto j = report_json_value(sample());
  auto refused = [](const nlohmann::json& doc) -> std::string {
    try {
      summary_from_json(doc);
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "";
  };
  auto other = j;
  other["schema"] = "something-else";
  EXPECT_NE(refused(other).find("schema"), std::string::npos);
  auto newer = j;
  newer["version"] = kStatsSchemaVersion + 1;
  EXPECT_NE(refused(newer).find("newer"), std::string::npos);
  auto missing = j;
  missing["ios"].erase("writes");
  EXPECT_NE(refused(missing).find("'writes'"), std::string::npos);
  auto mistyped = j;
  mistyped["shape"]["depth"] = "deep";
  EXPECT_NE(refused(mistyped).find("'depth' has the wrong type"), std::string::npos);
  EXPECT_EQ(refused(j), "");
}

}  // namespace
}  // namespace ublk::cli
