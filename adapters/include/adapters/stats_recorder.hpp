#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "pool/stats.hpp"

namespace adapters {

// The counters behind every adapter's pool::ProviderStats, lock-free, from any thread.
//
// Classes are powers of two from 4 KiB to max_length, so an adapter's stats line up with
// libpool's. The allocators wrapped here do not say when they refill from the OS, so every
// successful acquisition counts as a hit of its class and `misses` stays 0.
class StatsRecorder {
 public:
  StatsRecorder(std::string provider, std::size_t max_length, std::size_t byte_limit);

  // Counts `capacity` against the byte limit before the allocator is asked. False (and one
  // acquire failure) at the limit.
  [[nodiscard]] bool reserve(std::size_t capacity) noexcept;
  // The allocator gave the buffer: count it in its class.
  void commit(std::size_t capacity) noexcept;
  // The allocator refused after reserve(): give the bytes back, count a failure.
  void cancel(std::size_t capacity) noexcept;
  // A request refused before reserve() (bad input).
  void refuse() noexcept;
  void release(std::size_t capacity) noexcept;

  [[nodiscard]] std::uint64_t bytes_in_use() const noexcept;
  [[nodiscard]] std::size_t byte_limit() const noexcept { return byte_limit_; }
  // Backing memory is reported as `other_bytes` (it comes from the wrapped allocator).
  [[nodiscard]] pool::ProviderStats snapshot() const;

 private:
  struct Class {
    std::atomic<std::uint64_t> hits{0};
    std::atomic<std::uint64_t> in_use{0};
    std::atomic<std::uint64_t> peak{0};
  };
  [[nodiscard]] std::size_t class_index(std::size_t capacity) const noexcept;

  std::string provider_;
  std::size_t byte_limit_;
  std::size_t class_count_;
  std::unique_ptr<Class[]> classes_;
  std::atomic<std::uint64_t> bytes_in_use_{0};
  std::atomic<std::uint64_t> acquire_failures_{0};
};

}  // namespace adapters
