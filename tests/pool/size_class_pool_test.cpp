#include "pool/size_class_pool.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "pool/registry.hpp"

namespace {

pool::PoolConfig small_pages() {
  pool::PoolConfig config;
  config.backing = pool::BackingPolicy::none;
  return config;
}

TEST(SizeClassPool, EverySizeIsAlignedAndUsable) {
  pool::SizeClassPool p(small_pages());
  for (std::size_t length = 1; length <= p.max_length(); length = length * 2 + 1) {
    auto buffer = p.acquire(length);
    ASSERT_TRUE(buffer) << length;
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(buffer->data) % 4096, 0u);
    EXPECT_EQ(buffer->length, length);
    EXPECT_GE(buffer->capacity, length);
    EXPECT_EQ(buffer->owner, &p);
    std::memset(buffer->data, 0xab, buffer->capacity);
    EXPECT_EQ(p.class_of(buffer->data), p.classes().index_for(length));
    EXPECT_FALSE(p.release(*buffer));
  }
}

TEST(SizeClassPool, LargeAlignmentIsHonoured) {
  pool::SizeClassPool p(small_pages());
  auto buffer = p.acquire(4096, 65536);
  ASSERT_TRUE(buffer);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(buffer->data) % 65536, 0u);
  EXPECT_FALSE(p.release(buffer->data));
}

TEST(SizeClassPool, ReleaseNeedsOnlyTheAddress) {
  pool::SizeClassPool p(small_pages());
  auto a = p.acquire(70000);
  ASSERT_TRUE(a);
  EXPECT_FALSE(p.release(static_cast<void*>(a->data)));
  auto b = p.acquire(70000);
  ASSERT_TRUE(b);
  EXPECT_EQ(a->data, b->data);  // the list is LIFO: the warm buffer comes back first
  EXPECT_FALSE(p.release(*b));
}

TEST(SizeClassPool, MaxBufferSizeUpTo32MiB) {
  auto config = small_pages();
  config.max_buffer_size = std::size_t{32} << 20;
  config.steps_per_doubling = 4;
  pool::SizeClassPool p(config);
  EXPECT_EQ(p.max_length(), std::size_t{32} << 20);
  for (std::size_t length : {std::size_t{32} << 20, std::size_t{20} << 20, std::size_t{3} << 20}) {
    auto buffer = p.acquire(length);
    ASSERT_TRUE(buffer) << length;
    buffer->data[length - 1] = std::byte{1};
    EXPECT_FALSE(p.release(*buffer));
  }
}

TEST(SizeClassPool, DefaultPoolIsRegisteredAsPool) {
  auto p = pool::make_default_pool(small_pages());
  EXPECT_EQ(pool::registry().find("pool"), p);
  EXPECT_EQ(pool::registry().default_provider(), p);
  EXPECT_THROW(pool::make_default_pool(small_pages()), std::runtime_error);
  EXPECT_TRUE(pool::registry().remove("pool"));
}

TEST(SizeClassPool, CacheReusesBuffersWithoutTheCentralLists) {
  auto p = pool::make_pool(small_pages());
  pool::Cache cache(*p);
  auto first = cache.acquire(16384);
  ASSERT_TRUE(first);
  std::byte* data = first->data;
  EXPECT_FALSE(cache.release(*first));
  for (int i = 0; i < 100; ++i) {
    auto again = cache.acquire(16384);
    ASSERT_TRUE(again);
    EXPECT_EQ(again->data, data);
    EXPECT_FALSE(cache.release(*again));
  }
  auto stats = p->stats();
  ASSERT_TRUE(stats);
  const auto& c = stats->classes[p->classes().index_for(16384)];
  EXPECT_EQ(c.misses, 1u);
  EXPECT_EQ(c.hits, 100u);
  EXPECT_EQ(c.in_use, 0u);
  EXPECT_EQ(c.peak, 1u);
}

}  // namespace
