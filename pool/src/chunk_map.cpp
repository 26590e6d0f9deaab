#include "pool/detail/chunk.hpp"

#include <new>

namespace pool::detail {

ChunkMap::~ChunkMap() {
  for (auto& leaf : root_) delete leaf.load(std::memory_order_relaxed);
}

bool ChunkMap::set(const std::byte* base, std::size_t bytes, Chunk* chunk) noexcept {
  const std::uintptr_t first = reinterpret_cast<std::uintptr_t>(base) >> kGranuleShift;
  const std::uintptr_t last = (reinterpret_cast<std::uintptr_t>(base) + bytes - 1) >> kGranuleShift;
  if ((last >> kLeafBits) >= kRootSize) return false;
  for (std::uintptr_t top = first >> kLeafBits; top <= last >> kLeafBits; ++top) {
    if (root_[top].load(std::memory_order_relaxed)) continue;
    Leaf* leaf = new (std::nothrow) Leaf;
    if (!leaf) return false;
    root_[top].store(leaf, std::memory_order_release);
  }
  for (std::uintptr_t key = first; key <= last; ++key)
    root_[key >> kLeafBits].load(std::memory_order_relaxed)->slots[key & (kLeafSize - 1)].store(
        chunk, std::memory_order_release);
  return true;
}

}  // namespace pool::detail
