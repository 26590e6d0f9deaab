#pragma once
// The pool's per-chunk metadata and the address -> chunk table, public only so that Cache's
// fast path can be inlined into its callers. Not an API: use SizeClassPool and Cache.
//
// Address -> chunk in O(1): a two-level radix table over 2 MiB granules of the user address
// space. Lookups take no lock (the release path of every thread); set() runs under the pool's
// region lock.
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace pool::detail {

struct Region;

// A free buffer holds the central list's link in its first word and this mark in its second.
inline constexpr std::size_t kFreeMarkOffset = sizeof(void*);
inline std::uintptr_t& free_mark_word(void* buffer) noexcept {
  return *reinterpret_cast<std::uintptr_t*>(static_cast<std::byte*>(buffer) + kFreeMarkOffset);
}

// Whether an offset is a multiple of a fixed buffer size, without a division on the release
// path: the trailing zeros by mask, the odd factor by multiplying with its inverse mod 2^64
// (a multiple of d maps to at most UINT64_MAX / d, any other offset above it).
class MultipleTest {
 public:
  MultipleTest() = default;
  explicit MultipleTest(std::size_t divisor) noexcept {
    shift_ = static_cast<unsigned>(__builtin_ctzll(divisor));
    const std::uint64_t odd = divisor >> shift_;
    std::uint64_t inverse = odd;  // Newton's iteration doubles the correct low bits each time
    for (int i = 0; i < 5; ++i) inverse *= 2 - odd * inverse;
    inverse_ = inverse;
    limit_ = UINT64_MAX / odd;
  }
  [[nodiscard]] bool divides(std::uint64_t n) const noexcept {
    return (n & ((std::uint64_t{1} << shift_) - 1)) == 0 && (n >> shift_) * inverse_ <= limit_;
  }

 private:
  unsigned shift_ = 0;
  std::uint64_t inverse_ = 1;
  std::uint64_t limit_ = UINT64_MAX;
};

struct Chunk {
  std::byte* base = nullptr;
  std::size_t bytes = 0;
  std::size_t buffer_size = 0;
  std::size_t buffer_count = 0;
  std::size_t class_index = 0;
  std::size_t out = 0;  // buffers not on the central list (with users or in caches); class mutex
  Region* region = nullptr;
  std::size_t first_granule = 0;  // in region
  bool dying = false;             // being trimmed; class mutex
  std::size_t span = 0;           // buffer_count * buffer_size
  MultipleTest multiple_of_size;

  [[nodiscard]] bool holds_buffer(const void* p) const noexcept {
    const auto offset = static_cast<std::size_t>(static_cast<const std::byte*>(p) - base);
    return offset < span && multiple_of_size.divides(offset);
  }
};

class ChunkMap {
 public:
  static constexpr unsigned kGranuleShift = 21;
  static constexpr std::size_t kGranule = std::size_t{1} << kGranuleShift;

  ChunkMap() = default;
  ~ChunkMap();
  ChunkMap(const ChunkMap&) = delete;
  ChunkMap& operator=(const ChunkMap&) = delete;

  [[nodiscard]] Chunk* find(const void* address) const noexcept {
    const std::uintptr_t key = reinterpret_cast<std::uintptr_t>(address) >> kGranuleShift;
    const std::uintptr_t top = key >> kLeafBits;
    if (top >= kRootSize) return nullptr;
    const Leaf* leaf = root_[top].load(std::memory_order_acquire);
    return leaf ? leaf->slots[key & (kLeafSize - 1)].load(std::memory_order_acquire) : nullptr;
  }

  // Points every granule of [base, base + bytes) at `chunk` (null to clear). False if a table
  // leaf could not be allocated; then nothing changed.
  bool set(const std::byte* base, std::size_t bytes, Chunk* chunk) noexcept;

 private:
  static constexpr unsigned kAddressBits = 48;
  static constexpr unsigned kLeafBits = 14;
  static constexpr std::size_t kLeafSize = std::size_t{1} << kLeafBits;
  static constexpr std::size_t kRootSize = std::size_t{1} << (kAddressBits - kGranuleShift - kLeafBits);

  struct Leaf {
    std::array<std::atomic<Chunk*>, kLeafSize> slots{};
  };

  std::array<std::atomic<Leaf*>, kRootSize> root_{};
};

}  // namespace pool::detail
