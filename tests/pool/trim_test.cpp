// trim(): whole idle chunks go back to the OS, checked against the process's RSS.
#include <gtest/gtest.h>

#include <vector>

#include "pool/size_class_pool.hpp"
#include "proc_memory.hpp"

namespace {

constexpr std::size_t kMiB = std::size_t{1} << 20;

TEST(Trim, ReturnsIdleChunksAndRssDrops) {
  pool::PoolConfig config;
  config.backing = pool::BackingPolicy::none;
  pool::SizeClassPool p(config);
  std::vector<pool::Buffer> held;
  for (int i = 0; i < 64; ++i) held.push_back(*p.acquire(kMiB));
  ASSERT_EQ(p.mapped_bytes(), 64 * kMiB);
  for (auto& b : held) EXPECT_FALSE(p.release(b));

  const std::uint64_t before = pool_test::rss_bytes();
  EXPECT_EQ(p.trim(), 64 * kMiB);
  const std::uint64_t after = pool_test::rss_bytes();
  EXPECT_EQ(p.mapped_bytes(), 0u);
  EXPECT_EQ(p.stats()->backing.small_page_bytes, 0u);
  EXPECT_GE(before - after, 60 * kMiB) << "RSS before " << before << " after " << after;
}

TEST(Trim, KeepsChunksWithBuffersOut) {
  pool::PoolConfig config;
  config.backing = pool::BackingPolicy::none;
  pool::SizeClassPool p(config);
  auto kept = p.acquire(kMiB);   // chunk 1: one of two buffers out
  auto other = p.acquire(kMiB);  // chunk 1's second buffer
  auto freed = p.acquire(kMiB);  // chunk 2
  ASSERT_TRUE(kept && other && freed);
  EXPECT_FALSE(p.release(*other));
  EXPECT_FALSE(p.release(*freed));
  EXPECT_EQ(p.trim(), 2 * kMiB);
  EXPECT_EQ(p.mapped_bytes(), 2 * kMiB);
  kept->data[kMiB - 1] = std::byte{7};  // still mapped
  auto again = p.acquire(kMiB);         // the trimmed class still works
  ASSERT_TRUE(again);
  EXPECT_FALSE(p.release(*again));
  EXPECT_FALSE(p.release(*kept));
}

TEST(Trim, CachedBuffersAreNotTrimmedUntilFlushed) {
  pool::PoolConfig config;
  config.backing = pool::BackingPolicy::none;
  auto p = pool::make_pool(config);
  pool::Cache cache(*p);
  auto b = cache.acquire(4096);
  ASSERT_TRUE(b);
  EXPECT_FALSE(cache.release(*b));
  EXPECT_EQ(p->trim(), 0u);
  cache.flush();
  EXPECT_EQ(p->trim(), 2 * kMiB);
}

}  // namespace
