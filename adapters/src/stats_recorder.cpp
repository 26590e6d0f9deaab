#include "adapters/stats_recorder.hpp"

#include <algorithm>
#include <bit>

#include "pool/buffer.hpp"

namespace adapters {

namespace {
constexpr unsigned kSmallestClassShift = 12;  // 4 KiB

std::size_t class_count_for(std::size_t max_length) {
  const std::size_t top = std::bit_ceil(std::max(max_length, pool::kPageSize));
  return static_cast<std::size_t>(std::countr_zero(top)) - kSmallestClassShift + 1;
}

void raise_to(std::atomic<std::uint64_t>& peak, std::uint64_t value) noexcept {
  auto seen = peak.load(std::memory_order_relaxed);
  while (seen < value && !peak.compare_exchange_weak(seen, value, std::memory_order_relaxed)) {
  }
}
}  // namespace

StatsRecorder::StatsRecorder(std::string provider, std::size_t max_length, std::size_t byte_limit)
    : provider_(std::move(provider)),
      byte_limit_(byte_limit),
      class_count_(class_count_for(max_length)),
      classes_(std::make_unique<Class[]>(class_count_)) {}

std::size_t StatsRecorder::class_index(std::size_t capacity) const noexcept {
  const std::size_t rounded = std::bit_ceil(std::max(capacity, pool::kPageSize));
  const auto index = static_cast<std::size_t>(std::countr_zero(rounded)) - kSmallestClassShift;
  return std::min(index, class_count_ - 1);
}

bool StatsRecorder::reserve(std::size_t capacity) noexcept {
  const auto before = bytes_in_use_.fetch_add(capacity, std::memory_order_relaxed);
  if (byte_limit_ != 0 && before + capacity > byte_limit_) {
    bytes_in_use_.fetch_sub(capacity, std::memory_order_relaxed);
    acquire_failures_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  return true;
}

void StatsRecorder::commit(std::size_t capacity) noexcept {
  auto& c = classes_[class_index(capacity)];
  c.hits.fetch_add(1, std::memory_order_relaxed);
  raise_to(c.peak, c.in_use.fetch_add(1, std::memory_order_relaxed) + 1);
}

void StatsRecorder::cancel(std::size_t capacity) noexcept {
  bytes_in_use_.fetch_sub(capacity, std::memory_order_relaxed);
  acquire_failures_.fetch_add(1, std::memory_order_relaxed);
}

void StatsRecorder::refuse() noexcept { acquire_failures_.fetch_add(1, std::memory_order_relaxed); }

void StatsRecorder::release(std::size_t capacity) noexcept {
  classes_[class_index(capacity)].in_use.fetch_sub(1, std::memory_order_relaxed);
  bytes_in_use_.fetch_sub(capacity, std::memory_order_relaxed);
}

std::uint64_t StatsRecorder::bytes_in_use() const noexcept {
  return bytes_in_use_.load(std::memory_order_relaxed);
}

pool::ProviderStats StatsRecorder::snapshot() const {
  pool::ProviderStats s;
  s.provider = provider_;
  s.acquire_failures = acquire_failures_.load(std::memory_order_relaxed);
  s.bytes_in_use = bytes_in_use();
  s.bytes_limit = byte_limit_;
  s.backing.other_bytes = s.bytes_in_use;
  s.classes.reserve(class_count_);
  for (std::size_t i = 0; i < class_count_; ++i) {
    pool::ClassStats c;
    c.size = pool::kPageSize << i;
    c.hits = classes_[i].hits.load(std::memory_order_relaxed);
    c.in_use = classes_[i].in_use.load(std::memory_order_relaxed);
    c.peak = classes_[i].peak.load(std::memory_order_relaxed);
    s.classes.push_back(c);
  }
  return s;
}

}  // namespace adapters
