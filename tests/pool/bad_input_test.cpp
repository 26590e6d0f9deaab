// Bad input gives an error value, never a crash.
#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>

#include "pool/size_class_pool.hpp"

namespace {

pool::PoolConfig small_pages() {
  pool::PoolConfig config;
  config.backing = pool::BackingPolicy::none;
  return config;
}

TEST(BadInput, LengthAndAlignment) {
  auto p = pool::make_pool(small_pages());
  pool::Cache cache(*p);
  for (pool::BufferProvider* provider : {static_cast<pool::BufferProvider*>(p.get())}) {
    EXPECT_EQ(provider->acquire(0).error(), std::errc::invalid_argument);
    EXPECT_EQ(provider->acquire(provider->max_length() + 1).error(), std::errc::invalid_argument);
    EXPECT_EQ(provider->acquire(4096, 3).error(), std::errc::invalid_argument);
    EXPECT_EQ(provider->acquire(4096, 0).error(), std::errc::invalid_argument);
    EXPECT_EQ(provider->acquire(4096, std::size_t{1} << 30).error(), std::errc::invalid_argument);
  }
  EXPECT_EQ(cache.acquire(0).error(), std::errc::invalid_argument);
  EXPECT_EQ(cache.acquire(SIZE_MAX).error(), std::errc::invalid_argument);
  EXPECT_EQ(cache.acquire(4096, 24).error(), std::errc::invalid_argument);
  EXPECT_EQ(p->stats()->acquire_failures, 8u);
}

TEST(BadInput, ForeignPointers) {
  auto p = pool::make_pool(small_pages());
  auto other = pool::make_pool(small_pages());
  pool::Cache cache(*p);
  auto mine = p->acquire(65536);
  auto theirs = other->acquire(65536);
  ASSERT_TRUE(mine && theirs);

  int on_stack = 0;
  void* heap = std::aligned_alloc(4096, 4096);
  void* candidates[] = {nullptr, &on_stack, heap, theirs->data, mine->data + 4096, mine->data + 1,
                        reinterpret_cast<void*>(~std::uintptr_t{0} & ~std::uintptr_t{4095})};
  for (void* bad : candidates) {
    EXPECT_EQ(p->release(bad), std::errc::invalid_argument) << bad;
    EXPECT_EQ(cache.release(bad), std::errc::invalid_argument) << bad;
  }
  EXPECT_EQ(p->release(*theirs), std::errc::invalid_argument);  // owner is the other pool
  EXPECT_EQ(cache.release(*theirs), std::errc::invalid_argument);
  pool::Buffer forged{static_cast<std::byte*>(heap), 4096, 4096, p.get(), 0};
  EXPECT_EQ(p->release(forged), std::errc::invalid_argument);
  std::free(heap);

  EXPECT_FALSE(p->release(*mine));
  EXPECT_FALSE(other->release(*theirs));
}

TEST(BadInput, InteriorPointerOfAnUnevenClass) {
  auto config = small_pages();
  config.steps_per_doubling = 4;  // 80K is a class: buffers are not power-of-two apart
  auto p = pool::make_pool(config);
  auto a = p->acquire(80 * 1024);
  auto b = p->acquire(80 * 1024);
  ASSERT_TRUE(a && b);
  ASSERT_EQ(a->capacity, 80u * 1024);
  for (std::size_t offset : {std::size_t{4096}, std::size_t{16384}, std::size_t{65536}, std::size_t{81919}})
    EXPECT_EQ(p->release(a->data + offset), std::errc::invalid_argument) << offset;
  EXPECT_FALSE(p->release(*a));
  EXPECT_FALSE(p->release(*b));
}

TEST(BadInput, DoubleReleaseIsRefused) {
  auto p = pool::make_pool(small_pages());
  auto direct = p->acquire(8192);
  ASSERT_TRUE(direct);
  EXPECT_FALSE(p->release(*direct));
  EXPECT_EQ(p->release(*direct), std::errc::invalid_argument);

  pool::Cache cache(*p);
  auto cached = cache.acquire(8192);
  ASSERT_TRUE(cached);
  EXPECT_FALSE(cache.release(*cached));
  EXPECT_EQ(cache.release(*cached), std::errc::invalid_argument);
  EXPECT_EQ(p->release(*cached), std::errc::invalid_argument);

  // Handed out once each: the refused releases did not put a buffer on a list twice.
  auto a = cache.acquire(8192);
  auto b = cache.acquire(8192);
  ASSERT_TRUE(a && b);
  EXPECT_NE(a->data, b->data);
  EXPECT_FALSE(cache.release(*a));
  EXPECT_FALSE(cache.release(*b));
}

TEST(BadInput, BadConfigThrowsAtSetup) {
  pool::PoolConfig config;
  config.max_buffer_size = 5000;
  EXPECT_THROW(pool::SizeClassPool{config}, std::invalid_argument);
  config = {};
  config.name = "";
  EXPECT_THROW(pool::SizeClassPool{config}, std::invalid_argument);
}

}  // namespace
