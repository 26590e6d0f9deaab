#include "pool/cache.hpp"

#include <algorithm>
#include <cstring>

#include "pool/size_class_pool.hpp"
#include "pool_core.hpp"

namespace pool {

namespace {
constexpr std::size_t kMaxBatch = 64;

template <class T>
void bump(std::atomic<T>& counter) noexcept {
  counter.store(counter.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}
}  // namespace

Cache::Cache(SizeClassPool& pool)
    : keepalive_(pool.weak_from_this().lock()),
      pool_(pool),
      core_(pool.core()),
      classes_(core_.classes),
      map_(core_.map()),
      mark_key_(core_.mark_key()),
      owner_(&pool) {
  const SizeClasses& classes = core_.classes;
  bin_count_ = classes.count();
  bins_ = std::make_unique<Bin[]>(bin_count_);
  std::size_t total = 0;
  for (std::size_t i = 0; i < bin_count_; ++i) {
    const std::size_t batch = std::clamp<std::size_t>(core_.config.cache_bytes / classes.size(i) / 2, 1, kMaxBatch);
    bins_[i].batch = static_cast<std::uint32_t>(batch);
    bins_[i].capacity = static_cast<std::uint32_t>(2 * batch);
    total += 2 * batch;
  }
  storage_.resize(total);
  std::size_t offset = 0;
  for (std::size_t i = 0; i < bin_count_; ++i) {
    bins_[i].items = storage_.data() + offset;
    offset += bins_[i].capacity;
  }
  core_.attach(*this);
}

Cache::~Cache() {
  flush();
  core_.detach(*this);
}

Expected<Buffer> Cache::refill_and_acquire(std::size_t index, std::size_t length) noexcept {
  Bin& bin = bins_[index];
  bump(bin.misses);
  const std::size_t got = core_.take(index, bin.items, bin.batch, &bin);
  if (got == 0) return std::errc::not_enough_memory;
  bin.count.store(static_cast<std::uint32_t>(got - 1), std::memory_order_relaxed);
  return hand_out(bin.items[got - 1], length, index);
}

std::error_code Cache::refuse_acquire() noexcept {
  core_.count_failure();
  return std::make_error_code(std::errc::invalid_argument);
}

std::error_code Cache::refuse_release() noexcept { return std::make_error_code(std::errc::invalid_argument); }

void Cache::flush_batch(Bin& bin, std::size_t index, std::uint32_t how_many) noexcept {
  // The bottom of the stack is the coldest: give those back, keep the warm top.
  const std::uint32_t n = bin.count.load(std::memory_order_relaxed);
  core_.give_back(index, bin.items, how_many, &bin);
  std::memmove(bin.items, bin.items + how_many, (n - how_many) * sizeof(void*));
  bin.count.store(n - how_many, std::memory_order_relaxed);
}

void Cache::flush() noexcept {
  for (std::size_t i = 0; i < bin_count_; ++i) {
    const std::uint32_t n = bins_[i].count.load(std::memory_order_relaxed);
    if (n) flush_batch(bins_[i], i, n);
  }
}

std::size_t Cache::cached(std::size_t class_index) const noexcept {
  return class_index < bin_count_ ? bins_[class_index].count.load(std::memory_order_relaxed) : 0;
}

BufferProvider& Cache::provider() noexcept { return pool_; }

}  // namespace pool
