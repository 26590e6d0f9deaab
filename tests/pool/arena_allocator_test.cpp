#include "pool/arena_allocator.hpp"

#include <gtest/gtest.h>
#include <sys/mman.h>

#include <cstdint>
#include <set>
#include <stdexcept>

namespace {

struct Memory {
  explicit Memory(std::size_t n) : bytes(n) {
    data = static_cast<std::byte*>(::mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  }
  ~Memory() { ::munmap(data, bytes); }
  std::byte* data;
  std::size_t bytes;
};

TEST(ArenaAllocator, BuffersArePageAlignedDistinctAndInsideTheArena) {
  Memory memory(4 << 20);
  const pool::SizeClasses classes(1 << 20, 1);
  pool::ArenaAllocator arena({memory.data, memory.bytes}, classes);
  std::set<std::byte*> seen;
  for (std::size_t length : {1ul, 4096ul, 5000ul, 65536ul, 100000ul, 1ul << 20}) {
    auto buffer = arena.acquire(length);
    ASSERT_TRUE(buffer) << length;
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(*buffer) % 4096, 0u);
    EXPECT_GE(*buffer, memory.data);
    EXPECT_LE(*buffer + arena.capacity(*buffer), memory.data + memory.bytes);
    EXPECT_GE(arena.capacity(*buffer), length);
    EXPECT_TRUE(seen.insert(*buffer).second);
  }
  EXPECT_EQ(arena.capacity(memory.data + 4096 * 1000), 0u);  // not handed out
}

TEST(ArenaAllocator, AReleasedBufferServesItsClassAgain) {
  Memory memory(1 << 20);
  const pool::SizeClasses classes(256 << 10, 1);
  pool::ArenaAllocator arena({memory.data, memory.bytes}, classes);
  auto a = arena.acquire(8192);
  ASSERT_TRUE(a);
  EXPECT_EQ(arena.bytes_out(), 8192u);
  EXPECT_FALSE(arena.release(*a));
  EXPECT_EQ(arena.bytes_out(), 0u);
  auto b = arena.acquire(8000);
  ASSERT_TRUE(b);
  EXPECT_EQ(*b, *a);
}

TEST(ArenaAllocator, AFullArenaSaysSoUntilABufferComesBack) {
  Memory memory(1 << 20);
  const pool::SizeClasses classes(256 << 10, 1);
  pool::ArenaAllocator arena({memory.data, memory.bytes}, classes);
  std::byte* first = nullptr;
  for (int i = 0; i < 4; ++i) {
    auto buffer = arena.acquire(256 << 10);
    ASSERT_TRUE(buffer) << i;
    if (!first) first = *buffer;
  }
  auto more = arena.acquire(4096);
  ASSERT_FALSE(more);
  EXPECT_EQ(more.error(), std::errc::not_enough_memory);
  EXPECT_FALSE(arena.release(first));
  EXPECT_TRUE(arena.acquire(256 << 10));
}

TEST(ArenaAllocator, RefusesBadLengthsForeignPointersAndDoubleReleases) {
  Memory memory(1 << 20);
  const pool::SizeClasses classes(256 << 10, 1);
  pool::ArenaAllocator arena({memory.data, memory.bytes}, classes);
  EXPECT_EQ(arena.acquire(0).error(), std::errc::invalid_argument);
  EXPECT_EQ(arena.acquire((256 << 10) + 1).error(), std::errc::invalid_argument);
  auto buffer = arena.acquire(4096);
  ASSERT_TRUE(buffer);
  int local = 0;
  EXPECT_EQ(arena.release(&local), std::errc::invalid_argument);
  EXPECT_EQ(arena.release(*buffer + 1), std::errc::invalid_argument);
  EXPECT_FALSE(arena.release(*buffer));
  EXPECT_EQ(arena.release(*buffer), std::errc::invalid_argument);  // twice
  EXPECT_THROW(pool::ArenaAllocator({memory.data + 1, 4096}, classes), std::invalid_argument);
  EXPECT_THROW(pool::ArenaAllocator({memory.data, 1000}, classes), std::invalid_argument);
}

}  // namespace
