// The byte limit: past it an error value, counted; recovery once buffers come back.
#include <gtest/gtest.h>

#include <vector>

#include "pool/size_class_pool.hpp"

namespace {

constexpr std::size_t kMiB = std::size_t{1} << 20;

pool::PoolConfig limited(std::size_t bytes) {
  pool::PoolConfig config;
  config.backing = pool::BackingPolicy::none;
  config.byte_limit = bytes;
  return config;
}

TEST(ByteLimit, ExhaustionIsAnErrorThenReleaseRecovers) {
  auto p = pool::make_pool(limited(8 * kMiB));
  std::vector<pool::Buffer> held;
  for (int i = 0; i < 8; ++i) {
    auto b = p->acquire(kMiB);
    ASSERT_TRUE(b) << i;
    held.push_back(*b);
  }
  auto refused = p->acquire(kMiB);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), std::errc::not_enough_memory);
  EXPECT_EQ(p->stats()->acquire_failures, 1u);
  EXPECT_EQ(p->mapped_bytes(), 8 * kMiB);

  EXPECT_FALSE(p->release(held.back()));
  held.pop_back();
  auto recovered = p->acquire(kMiB);
  ASSERT_TRUE(recovered);
  EXPECT_FALSE(p->release(*recovered));
  for (auto& b : held) EXPECT_FALSE(p->release(b));
}

TEST(ByteLimit, CacheExhaustionThenRecovery) {
  auto p = pool::make_pool(limited(4 * kMiB));
  pool::Cache cache(*p);
  std::vector<pool::Buffer> held;
  for (;;) {
    auto b = cache.acquire(256 * 1024);
    if (!b) {
      EXPECT_EQ(b.error(), std::errc::not_enough_memory);
      break;
    }
    held.push_back(*b);
    ASSERT_LE(held.size(), 16u);
  }
  EXPECT_EQ(held.size(), 16u);
  for (auto& b : held) EXPECT_FALSE(cache.release(b));
  for (int i = 0; i < 16; ++i) {
    auto b = cache.acquire(256 * 1024);
    ASSERT_TRUE(b) << i;
    held[static_cast<std::size_t>(i)] = *b;
  }
  for (auto& b : held) EXPECT_FALSE(cache.release(b));
}

TEST(ByteLimit, IdleChunksOfAnotherClassMakeRoom) {
  auto p = pool::make_pool(limited(4 * kMiB));
  std::vector<pool::Buffer> small;
  for (int i = 0; i < 64; ++i) small.push_back(*p->acquire(64 * 1024));  // all 4 MiB
  ASSERT_FALSE(p->acquire(kMiB));
  for (auto& b : small) EXPECT_FALSE(p->release(b));
  // The 64K chunks are idle now: hitting the limit trims them and the 1M class gets the room.
  std::vector<pool::Buffer> large;
  for (int i = 0; i < 4; ++i) {
    auto b = p->acquire(kMiB);
    ASSERT_TRUE(b) << i;
    large.push_back(*b);
  }
  EXPECT_EQ(p->mapped_bytes(), 4 * kMiB);
  for (auto& b : large) EXPECT_FALSE(p->release(b));
}

}  // namespace
