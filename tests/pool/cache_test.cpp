// pool::Cache: reuse without the central lists, batching, and release from another thread.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <thread>
#include <vector>

#include "pool/size_class_pool.hpp"

namespace {

std::shared_ptr<pool::SizeClassPool> small_page_pool() {
  pool::PoolConfig config;
  config.backing = pool::BackingPolicy::none;
  return pool::make_pool(config);
}

TEST(Cache, RefillsInBatchesAndServesHitsLocally) {
  auto p = small_page_pool();
  pool::Cache cache(*p);
  const std::size_t index = p->classes().index_for(4096);
  std::vector<pool::Buffer> held;
  for (int i = 0; i < 40; ++i) {
    auto b = cache.acquire(4096);
    ASSERT_TRUE(b);
    held.push_back(*b);
  }
  // A batch is half of cache_bytes (2 MiB) per class, at most 64 buffers: one refill serves 40.
  const auto s = p->stats()->classes[index];
  EXPECT_EQ(s.misses, 1u);
  EXPECT_EQ(s.hits, 39u);
  EXPECT_EQ(cache.cached(index), 64u - 40u);
  for (auto& b : held) EXPECT_FALSE(cache.release(b));
  EXPECT_EQ(cache.cached(index), 64u);
}

TEST(Cache, OverflowFlushesABatchToTheCentralList) {
  auto p = small_page_pool();
  const std::size_t index = p->classes().index_for(1 << 20);
  std::vector<pool::Buffer> held;
  for (int i = 0; i < 8; ++i) held.push_back(*p->acquire(1 << 20));
  pool::Cache cache(*p);
  for (auto& b : held) EXPECT_FALSE(cache.release(b));
  // 1 MiB buffers: batch 1, capacity 2. Releasing 8 leaves 2 cached, the rest went back.
  EXPECT_EQ(cache.cached(index), 2u);
  EXPECT_EQ(p->stats()->classes[index].in_use, 0u);
  cache.flush();
  EXPECT_EQ(cache.cached(index), 0u);
}

TEST(Cache, DestructionReturnsEverything) {
  auto p = small_page_pool();
  {
    pool::Cache cache(*p);
    auto b = cache.acquire(8192);
    ASSERT_TRUE(b);
    EXPECT_FALSE(cache.release(*b));
  }
  // Nothing is held or cached, so every chunk can go back to the OS.
  EXPECT_EQ(p->trim(), std::size_t{2} << 20);
  EXPECT_EQ(p->mapped_bytes(), 0u);
}

TEST(Cache, MakeCacheGivesALockFreeCacheThatKeepsThePoolAlive) {
  auto p = small_page_pool();
  auto cache = p->make_cache();
  ASSERT_NE(dynamic_cast<pool::Cache*>(cache.get()), nullptr);
  std::weak_ptr<pool::SizeClassPool> weak = p;
  p.reset();
  ASSERT_FALSE(weak.expired());
  auto b = cache->acquire(4096);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->owner, &cache->provider());
  EXPECT_FALSE(cache->release(*b));
  cache.reset();
  EXPECT_TRUE(weak.expired());
}

TEST(Cache, CrossThreadReleaseIsCorrect) {
  auto p = small_page_pool();
  const std::size_t index = p->classes().index_for(65536);
  std::vector<pool::Buffer> made;
  std::thread producer([&] {
    pool::Cache cache(*p);
    for (int i = 0; i < 100; ++i) {
      auto b = cache.acquire(65536);
      ASSERT_TRUE(b);
      std::fill_n(b->data, 64, std::byte{static_cast<unsigned char>(i)});
      made.push_back(*b);
    }
  });
  producer.join();
  std::set<std::byte*> distinct;
  for (auto& b : made) distinct.insert(b.data);
  EXPECT_EQ(distinct.size(), made.size());

  std::thread consumer([&] {
    pool::Cache cache(*p);
    for (std::size_t i = 0; i < made.size(); ++i) {
      EXPECT_EQ(made[i].data[63], std::byte{static_cast<unsigned char>(i)});
      EXPECT_FALSE(cache.release(made[i]));
    }
  });
  consumer.join();
  const auto s = p->stats()->classes[index];
  EXPECT_EQ(s.in_use, 0u);
  EXPECT_EQ(s.peak, 100u);
  // Every buffer is back: all 100 come out again, each once.
  std::set<std::byte*> again;
  for (int i = 0; i < 100; ++i) again.insert(p->acquire(65536)->data);
  EXPECT_EQ(again, distinct);
  for (auto* d : again) EXPECT_FALSE(p->release(d));
}

}  // namespace
