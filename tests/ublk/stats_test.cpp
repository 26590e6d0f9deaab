#include "ublk/stats.hpp"

#include <gtest/gtest.h>

namespace ublk {
namespace {

TEST(SizeHistogram, BucketsArePowersOfTwoFrom512) {
  EXPECT_EQ(SizeHistogram::bucket_of(1), 0u);
  EXPECT_EQ(SizeHistogram::bucket_of(512), 0u);
  EXPECT_EQ(SizeHistogram::bucket_of(513), 1u);
  EXPECT_EQ(SizeHistogram::bucket_of(4096), 3u);
  EXPECT_EQ(SizeHistogram::bucket_of(1 << 20), 11u);
  EXPECT_EQ(SizeHistogram::bucket_of((1 << 20) + 1), 12u);
  EXPECT_EQ(SizeHistogram::bucket_of(32u << 20), 12u);
}

TEST(SizeHistogram, LabelsReadAsUpperBounds) {
  EXPECT_EQ(SizeHistogram::label(0), "512");
  EXPECT_EQ(SizeHistogram::label(3), "4K");
  EXPECT_EQ(SizeHistogram::label(11), "1M");
  EXPECT_EQ(SizeHistogram::label(12), ">1M");
}

TEST(SizeHistogram, CountsAndMerges) {
  SizeHistogram a, b;
  a.add(4096);
  a.add(4096);
  a.add(512);
  b.add(4000);
  b.add(2 << 20);
  a.merge(b);
  EXPECT_EQ(a.count(3), 3u);
  EXPECT_EQ(a.count(0), 1u);
  EXPECT_EQ(a.count(12), 1u);
  EXPECT_EQ(a.total(), 5u);
}

TEST(LatencyHistogram, MicrosecondBucketsAndQuantiles) {
  EXPECT_EQ(LatencyHistogram::upper_bound(0), 1u);
  EXPECT_EQ(LatencyHistogram::upper_bound(10), 1024u);
  EXPECT_EQ(LatencyHistogram::label(10), "1024us");
  EXPECT_EQ(LatencyHistogram::label(LatencyHistogram::kBuckets - 1), ">1048576us");
  LatencyHistogram h;
  EXPECT_EQ(h.quantile_bucket(0.5), 0u);  // empty
  for (int i = 0; i < 9; ++i) h.add(3);   // <= 4 us
  h.add(5'000'000);                       // over a second: the last bucket
  EXPECT_EQ(h.quantile_bucket(0.5), LatencyHistogram::bucket_of(4));
  EXPECT_EQ(h.quantile_bucket(0.9), LatencyHistogram::bucket_of(4));
  EXPECT_EQ(h.quantile_bucket(0.99), LatencyHistogram::kBuckets - 1);
  h.add_count(0, 5);
  EXPECT_EQ(h.total(), 15u);
}

TEST(IoStats, MergeAddsEveryCounterAndTheRatioFollows) {
  IoStats a, b;
  a.writes = 2;
  a.write_bytes = 8192;
  a.userspace_copy_bytes = 8192;
  b.writes = 1;
  b.write_bytes = 8192;
  b.enomem = 1;
  b.errors = 1;
  b.sizes.add(8192);
  b.backend_latency_us.add(10);
  b.backend_latency_ns = 10'000;
  b.read_bytes = 4096;
  b.userspace_read_copy_bytes = 1024;
  a.merge(b);
  EXPECT_EQ(a.backend_latency_us.total(), 1u);
  EXPECT_EQ(a.backend_latency_ns, 10'000u);
  EXPECT_EQ(a.writes, 3u);
  EXPECT_EQ(a.write_bytes, 16384u);
  EXPECT_EQ(a.errors, 1u);
  EXPECT_EQ(a.enomem, 1u);
  EXPECT_EQ(a.sizes.total(), 1u);
  EXPECT_DOUBLE_EQ(a.userspace_copies_per_write_byte(), 0.5);
  EXPECT_DOUBLE_EQ(IoStats{}.userspace_copies_per_write_byte(), 0.0);
  EXPECT_DOUBLE_EQ(a.userspace_copies_per_read_byte(), 0.25);
  EXPECT_DOUBLE_EQ(IoStats{}.userspace_copies_per_read_byte(), 0.0);
}

}  // namespace
}  // namespace ublk
