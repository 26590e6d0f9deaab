#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "pool/buffer_provider.hpp"
#include "pool/detail/chunk.hpp"
#include "pool/size_classes.hpp"

namespace pool {

class SizeClassPool;
namespace detail {
class PoolCore;
// A copy is two loads; std::error_code{} would call system_category() out of line each time.
inline const std::error_code kSuccess{};
}

// One thread's cache of a SizeClassPool (one per ublk queue). acquire() and release() take no
// lock and do no atomic read-modify-write; they refill from and flush to the pool's central
// lists in batches. release() takes any buffer of the pool, also one from another thread.
// Not thread-safe itself: one owner thread at a time. Flushes everything back on destruction.
class Cache final : public BufferCache {
 public:
  explicit Cache(SizeClassPool& pool);
  ~Cache() override;
  Cache(const Cache&) = delete;
  Cache& operator=(const Cache&) = delete;

  // Inline: called through a Cache& (the class is final), these compile into the caller.
  [[nodiscard]] Expected<Buffer> acquire(std::size_t length,
                                         std::size_t alignment = kPageSize) noexcept override;
  std::error_code release(const Buffer& buffer) noexcept override;
  std::error_code release(void* data) noexcept;
  [[nodiscard]] BufferProvider& provider() noexcept override;

  // Returns every cached buffer to the central lists.
  void flush() noexcept;
  [[nodiscard]] std::size_t cached(std::size_t class_index) const noexcept;

 private:
  friend class detail::PoolCore;

  // A per-class stack. The counters have one writer (the owner thread) and are read by
  // stats(): relaxed loads and stores, which compile to plain moves.
  struct Bin {
    void** items = nullptr;
    std::uint32_t capacity = 0;
    std::uint32_t batch = 0;
    std::atomic<std::uint32_t> count{0};
    std::atomic<std::uint64_t> hits{0};
    std::atomic<std::uint64_t> misses{0};
    std::uint32_t reported = 0;  // count as the central list last saw it (under its lock)
  };

  Expected<Buffer> refill_and_acquire(std::size_t index, std::size_t length) noexcept;
  void flush_batch(Bin& bin, std::size_t index, std::uint32_t how_many) noexcept;
  std::error_code refuse_acquire() noexcept;  // counts a failure
  static std::error_code refuse_release() noexcept;

  Buffer hand_out(void* data, std::size_t length, std::size_t index) noexcept {
    detail::free_mark_word(data) = 0;
    return Buffer{static_cast<std::byte*>(data), length, classes_.size(index), owner_, index};
  }

  std::shared_ptr<SizeClassPool> keepalive_;
  SizeClassPool& pool_;
  detail::PoolCore& core_;
  // The fast path's data, copied out of the pool so that the inline code needs no pool internals.
  const SizeClasses& classes_;
  const detail::ChunkMap& map_;
  const std::uintptr_t mark_key_;
  BufferProvider* const owner_;
  std::vector<void*> storage_;
  std::unique_ptr<Bin[]> bins_;
  std::size_t bin_count_ = 0;
};

inline Expected<Buffer> Cache::acquire(std::size_t length, std::size_t alignment) noexcept {
  const std::size_t index = classes_.index_for(length, alignment);
  if (index == kNoClass) [[unlikely]]
    return refuse_acquire();
  Bin& bin = bins_[index];
  const std::uint32_t n = bin.count.load(std::memory_order_relaxed);
  if (n == 0) [[unlikely]]
    return refill_and_acquire(index, length);
  bin.count.store(n - 1, std::memory_order_relaxed);
  // One writer: a relaxed load and store, no read-modify-write.
  bin.hits.store(bin.hits.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  return hand_out(bin.items[n - 1], length, index);
}

inline std::error_code Cache::release(const Buffer& buffer) noexcept {
  if (buffer.owner != owner_) [[unlikely]]
    return refuse_release();
  return release(buffer.data);
}

inline std::error_code Cache::release(void* data) noexcept {
  const detail::Chunk* chunk = map_.find(data);
  const std::uintptr_t free_mark = reinterpret_cast<std::uintptr_t>(data) ^ mark_key_;
  // Not a buffer start of this pool, or already free (a double release).
  if (!chunk || !chunk->holds_buffer(data) || detail::free_mark_word(data) == free_mark) [[unlikely]]
    return refuse_release();
  const std::size_t index = chunk->class_index;
  Bin& bin = bins_[index];
  std::uint32_t n = bin.count.load(std::memory_order_relaxed);
  if (n == bin.capacity) [[unlikely]] {
    flush_batch(bin, index, bin.batch);
    n -= bin.batch;
  }
  detail::free_mark_word(data) = free_mark;
  bin.items[n] = data;
  bin.count.store(n + 1, std::memory_order_relaxed);
  return detail::kSuccess;
}

}  // namespace pool
