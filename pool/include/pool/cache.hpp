#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "pool/buffer_provider.hpp"

namespace pool {

class SizeClassPool;
namespace detail {
class PoolCore;
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

  std::shared_ptr<SizeClassPool> keepalive_;
  SizeClassPool& pool_;
  detail::PoolCore& core_;
  std::vector<void*> storage_;
  std::unique_ptr<Bin[]> bins_;
  std::size_t bin_count_ = 0;
};

}  // namespace pool
