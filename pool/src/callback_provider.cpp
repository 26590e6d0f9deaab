#include "pool/callback_provider.hpp"

#include <bit>
#include <stdexcept>

namespace pool {

CallbackProvider::CallbackProvider(std::string name, CallbackAllocator allocator, std::size_t max_length)
    : name_(std::move(name)), allocator_(allocator), max_length_(max_length) {
  if (name_.empty()) throw std::invalid_argument("pool: a callback provider needs a name");
  if (!allocator_.alloc || !allocator_.free)
    throw std::invalid_argument("pool: callback provider \"" + name_ + "\" needs both alloc and free");
  if (max_length_ == 0) throw std::invalid_argument("pool: callback provider max_length must be > 0");
  std::size_t count = 1;
  for (std::size_t size = kPageSize; size < max_length_; size *= 2) ++count;
  classes_.resize(count);
}

CallbackProvider::~CallbackProvider() {
  for (auto& [data, length] : outstanding_) allocator_.free(allocator_.ctx, data, length);
}

CallbackProvider::ClassCounters& CallbackProvider::counters_for(std::size_t length) noexcept {
  const std::size_t pages = (length + kPageSize - 1) / kPageSize;
  const auto index = static_cast<std::size_t>(std::bit_width(pages - 1));
  return classes_[std::min(index, classes_.size() - 1)];
}

Expected<Buffer> CallbackProvider::acquire(std::size_t length, std::size_t alignment) noexcept {
  if (length == 0 || length > max_length_ || !std::has_single_bit(alignment)) {
    std::lock_guard lock(mutex_);
    ++failures_;
    return std::errc::invalid_argument;
  }
  void* data = allocator_.alloc(allocator_.ctx, length, alignment);
  std::lock_guard lock(mutex_);
  if (!data) {
    ++failures_;
    return std::errc::not_enough_memory;
  }
  // A pointer that is still out must not be freed here: its owner holds it.
  if (outstanding_.find(data) != outstanding_.end()) {
    ++failures_;  // the callee gave out memory that is still out
    return std::errc::invalid_argument;
  }
  if (reinterpret_cast<std::uintptr_t>(data) % alignment != 0) {
    // The callee broke its contract; do not hand out a misaligned buffer.
    allocator_.free(allocator_.ctx, data, length);
    ++failures_;
    return std::errc::invalid_argument;
  }
  try {
    outstanding_.emplace(data, length);
  } catch (const std::bad_alloc&) {
    allocator_.free(allocator_.ctx, data, length);
    ++failures_;
    return std::errc::not_enough_memory;
  }
  ClassCounters& c = counters_for(length);
  ++c.hits;
  c.peak = std::max(c.peak, ++c.in_use);
  bytes_in_use_ += length;
  return Buffer{static_cast<std::byte*>(data), length, length, this, 0};
}

std::error_code CallbackProvider::release(const Buffer& buffer) noexcept {
  if (buffer.owner != this) return std::make_error_code(std::errc::invalid_argument);
  return release(buffer.data);
}

std::error_code CallbackProvider::release(void* data) noexcept {
  std::size_t length = 0;
  {
    std::lock_guard lock(mutex_);
    auto it = outstanding_.find(data);
    if (it == outstanding_.end()) return std::make_error_code(std::errc::invalid_argument);
    length = it->second;
    outstanding_.erase(it);
    --counters_for(length).in_use;
    bytes_in_use_ -= length;
  }
  allocator_.free(allocator_.ctx, data, length);
  return {};
}

std::optional<ProviderStats> CallbackProvider::stats() const {
  ProviderStats out;
  out.provider = name_;
  std::lock_guard lock(mutex_);
  out.acquire_failures = failures_;
  out.bytes_in_use = bytes_in_use_;
  out.backing.other_bytes = bytes_in_use_;
  std::size_t size = kPageSize;
  for (const auto& c : classes_) {
    out.classes.push_back(ClassStats{std::min(size, std::max(max_length_, kPageSize)), c.hits, 0, c.in_use, c.peak});
    size *= 2;
  }
  return out;
}

}  // namespace pool
