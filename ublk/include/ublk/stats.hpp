#pragma once
#include <array>
#include <cstdint>
#include <string>

namespace ublk {

// Request sizes in power-of-two buckets: <=512 B, <=1 KiB, ..., <=1 MiB, > 1 MiB.
class SizeHistogram {
 public:
  static constexpr unsigned kBuckets = 13;  // 2^9 .. 2^20, then the rest
  static constexpr std::uint64_t upper_bound(unsigned bucket) noexcept {
    return bucket + 1 < kBuckets ? std::uint64_t{512} << bucket : UINT64_MAX;
  }
  static constexpr unsigned bucket_of(std::uint64_t bytes) noexcept {
    unsigned bucket = 0;
    while (bucket + 1 < kBuckets && bytes > upper_bound(bucket)) ++bucket;
    return bucket;
  }
  void add(std::uint64_t bytes) noexcept { ++counts_[bucket_of(bytes)]; }
  void merge(const SizeHistogram& other) noexcept {
    for (unsigned i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
  }
  [[nodiscard]] std::uint64_t count(unsigned bucket) const noexcept { return counts_[bucket]; }
  [[nodiscard]] std::uint64_t total() const noexcept {
    std::uint64_t sum = 0;
    for (auto c : counts_) sum += c;
    return sum;
  }
  // "512", "1K", ..., "1M", ">1M"
  static std::string label(unsigned bucket);

 private:
  std::array<std::uint64_t, kBuckets> counts_{};
};

// One queue's counters; written by its thread only, merged after the queues stop.
struct IoStats {
  std::uint64_t reads = 0, writes = 0, flushes = 0, discards = 0, other_ops = 0;
  std::uint64_t read_bytes = 0, write_bytes = 0;
  std::uint64_t errors = 0;         // requests completed with a negative result
  std::uint64_t enomem = 0;         // of those, provider exhaustion
  std::uint64_t get_data = 0;       // NEED_GET_DATA commands issued
  std::uint64_t kernel_copy_bytes = 0;     // request data the kernel copied to/from our memory
  std::uint64_t userspace_copy_bytes = 0;  // WRITE data memcpy'd in user space (app copy, target)
  std::uint64_t acquires = 0, acquire_failures = 0;
  std::uint64_t exhaustion_waits = 0;  // IOs parked until a provider buffer came back
  SizeHistogram sizes;

  void merge(const IoStats& other) noexcept;
  // Userspace bytes copied per WRITE byte (0 when nothing was written).
  [[nodiscard]] double userspace_copies_per_write_byte() const noexcept {
    return write_bytes ? static_cast<double>(userspace_copy_bytes) / static_cast<double>(write_bytes) : 0.0;
  }
};

}  // namespace ublk
