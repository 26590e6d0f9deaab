#pragma once
// Address -> chunk in O(1): a two-level radix table over 2 MiB granules of the user address
// space. Lookups take no lock (the release path of every thread); set() runs under the
// pool's region lock.
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace pool::detail {

struct Chunk;

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
