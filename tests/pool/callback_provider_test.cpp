// CallbackProvider: exact-size round trips, alignment, errors, the common stats shape.
#include "pool/callback_provider.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <thread>

namespace {

struct Recorder {
  std::map<void*, std::size_t> live;
  std::size_t refuse_above = SIZE_MAX;
  bool misalign = false;
  void* duplicate = nullptr;  // returned instead of fresh memory when set
};

void* record_alloc(void* ctx, std::size_t length, std::size_t alignment) {
  auto* r = static_cast<Recorder*>(ctx);
  if (r->duplicate) return r->duplicate;
  if (length > r->refuse_above) return nullptr;
  const std::size_t align = std::max(alignment, sizeof(void*));
  void* p = std::aligned_alloc(align, (length + align + align - 1) / align * align);
  if (r->misalign) p = static_cast<char*>(p) + 8;
  r->live[p] = length;
  return p;
}

void record_free(void* ctx, void* data, std::size_t length) {
  auto* r = static_cast<Recorder*>(ctx);
  auto it = r->live.find(data);
  ASSERT_NE(it, r->live.end());
  EXPECT_EQ(it->second, length) << "free must get the length alloc was asked for";
  r->live.erase(it);
  std::free(r->misalign ? static_cast<char*>(data) - 8 : data);
}

TEST(CallbackProvider, ExactSizeRoundTripAndAlignment) {
  Recorder r;
  pool::CallbackProvider provider("cb", {record_alloc, record_free, &r}, 1 << 20);
  for (std::size_t length : {std::size_t{1}, std::size_t{4095}, std::size_t{70000}, std::size_t{1} << 20}) {
    for (std::size_t alignment : {std::size_t{512}, std::size_t{4096}, std::size_t{65536}}) {
      auto b = provider.acquire(length, alignment);
      ASSERT_TRUE(b);
      EXPECT_EQ(reinterpret_cast<std::uintptr_t>(b->data) % alignment, 0u);
      EXPECT_EQ(b->length, length);
      EXPECT_EQ(b->capacity, length);
      EXPECT_EQ(b->owner, &provider);
      pool::Buffer changed = *b;
      changed.length = 1;  // the provider remembers the real length
      EXPECT_FALSE(provider.release(changed));
    }
  }
  EXPECT_TRUE(r.live.empty());
}

TEST(CallbackProvider, ErrorsNotCrashes) {
  Recorder r;
  r.refuse_above = 8192;
  pool::CallbackProvider provider("cb", {record_alloc, record_free, &r}, 1 << 20);
  EXPECT_EQ(provider.acquire(0).error(), std::errc::invalid_argument);
  EXPECT_EQ(provider.acquire((1 << 20) + 1).error(), std::errc::invalid_argument);
  EXPECT_EQ(provider.acquire(4096, 3).error(), std::errc::invalid_argument);
  EXPECT_EQ(provider.acquire(16384).error(), std::errc::not_enough_memory);
  int local = 0;
  EXPECT_EQ(provider.release(&local), std::errc::invalid_argument);
  auto b = provider.acquire(4096);
  ASSERT_TRUE(b);
  EXPECT_FALSE(provider.release(*b));
  EXPECT_EQ(provider.release(*b), std::errc::invalid_argument);  // double release
  EXPECT_EQ(provider.stats()->acquire_failures, 4u);
  EXPECT_THROW(pool::CallbackProvider("x", {nullptr, record_free, &r}), std::invalid_argument);
}

TEST(CallbackProvider, MisalignedCalleeIsRefused) {
  Recorder r;
  r.misalign = true;
  pool::CallbackProvider provider("cb", {record_alloc, record_free, &r}, 1 << 20);
  EXPECT_EQ(provider.acquire(4096, 4096).error(), std::errc::invalid_argument);
  EXPECT_TRUE(r.live.empty());
}

TEST(CallbackProvider, AStillOutPointerIsRefusedNotFreed) {
  Recorder r;
  r.misalign = true;  // 8 bytes past an aligned block: fine for alignment 8, not for 4096
  pool::CallbackProvider provider("cb", {record_alloc, record_free, &r}, 1 << 20);
  auto first = provider.acquire(4096, 8);
  ASSERT_TRUE(first);
  r.duplicate = first->data;
  EXPECT_EQ(provider.acquire(4096, 4096).error(), std::errc::invalid_argument);
  EXPECT_EQ(provider.acquire(4096, 8).error(), std::errc::invalid_argument);
  EXPECT_EQ(r.live.size(), 1u);  // still out, still the first buffer's
  r.duplicate = nullptr;
  EXPECT_FALSE(provider.release(*first));
  EXPECT_TRUE(r.live.empty());
}

TEST(CallbackProvider, StatsHaveTheCommonShape) {
  Recorder r;
  pool::CallbackProvider provider("cb", {record_alloc, record_free, &r}, 1 << 20);
  auto a = provider.acquire(4096);
  auto b = provider.acquire(5000);
  auto c = provider.acquire(5000);
  ASSERT_TRUE(a && b && c);
  EXPECT_FALSE(provider.release(*c));
  const auto s = *provider.stats();
  EXPECT_EQ(s.provider, "cb");
  ASSERT_EQ(s.classes.size(), 9u);  // 4K .. 1M
  EXPECT_EQ(s.classes[0].size, 4096u);
  EXPECT_EQ(s.classes[8].size, 1u << 20);
  EXPECT_EQ(s.classes[0].hits, 1u);
  EXPECT_EQ(s.classes[1].hits, 2u);
  EXPECT_EQ(s.classes[1].in_use, 1u);
  EXPECT_EQ(s.classes[1].peak, 2u);
  EXPECT_EQ(s.bytes_in_use, 9096u);
  EXPECT_EQ(s.backing.other_bytes, 9096u);
  EXPECT_FALSE(provider.release(*a));
  EXPECT_FALSE(provider.release(*b));
}

TEST(CallbackProvider, OutstandingBuffersAreFreedWithTheProvider) {
  Recorder r;
  {
    pool::CallbackProvider provider("cb", {record_alloc, record_free, &r}, 1 << 20);
    ASSERT_TRUE(provider.acquire(4096));
    EXPECT_EQ(r.live.size(), 1u);
  }
  EXPECT_TRUE(r.live.empty());
}

}  // namespace
