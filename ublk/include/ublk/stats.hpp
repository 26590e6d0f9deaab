#pragma once
#include <array>
#include <atomic>
#include <cstdint>
#include <string>

namespace ublk {

// A counter with one writer thread and any number of readers: a relaxed load and store (plain
// moves on x86), never a read-modify-write. Copying it reads it.
class Counter {
 public:
  constexpr Counter() noexcept = default;
  Counter(std::uint64_t value) noexcept : value_(value) {}  // NOLINT: a counter is a number
  Counter(const Counter& other) noexcept : value_(other.load()) {}
  Counter& operator=(const Counter& other) noexcept {
    store(other.load());
    return *this;
  }
  Counter& operator=(std::uint64_t value) noexcept {
    store(value);
    return *this;
  }
  operator std::uint64_t() const noexcept { return load(); }  // NOLINT
  Counter& operator++() noexcept { return *this += 1; }
  void operator++(int) noexcept { *this += 1; }
  Counter& operator+=(std::uint64_t n) noexcept {
    store(load() + n);
    return *this;
  }
  [[nodiscard]] std::uint64_t load() const noexcept { return value_.load(std::memory_order_relaxed); }
  void store(std::uint64_t value) noexcept { value_.store(value, std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

// nlohmann::json (and any JSON type with the same ADL hook) writes a Counter as its number.
template <class Json>
void to_json(Json& json, const Counter& counter) {
  json = counter.load();
}

// Counts in power-of-two buckets: <= kFirst, <= 2 kFirst, ..., then one bucket for the rest.
// One writer thread (Counter); add_count() lets a reader rebuild one from a saved report.
template <unsigned Buckets, std::uint64_t kFirst>
class Log2Histogram {
 public:
  static constexpr unsigned kBuckets = Buckets;
  static constexpr std::uint64_t upper_bound(unsigned bucket) noexcept {
    return bucket + 1 < kBuckets ? kFirst << bucket : UINT64_MAX;
  }
  static constexpr unsigned bucket_of(std::uint64_t value) noexcept {
    unsigned bucket = 0;
    while (bucket + 1 < kBuckets && value > upper_bound(bucket)) ++bucket;
    return bucket;
  }
  void add(std::uint64_t value) noexcept { ++counts_[bucket_of(value)]; }
  void add_count(unsigned bucket, std::uint64_t n) noexcept { counts_[bucket] += n; }
  void merge(const Log2Histogram& other) noexcept {
    for (unsigned i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
  }
  [[nodiscard]] std::uint64_t count(unsigned bucket) const noexcept { return counts_[bucket]; }
  [[nodiscard]] std::uint64_t total() const noexcept {
    std::uint64_t sum = 0;
    for (const auto& c : counts_) sum += c;
    return sum;
  }
  // The bucket that holds the q-quantile (0 < q <= 1) of the values counted; 0 when none were.
  [[nodiscard]] unsigned quantile_bucket(double q) const noexcept {
    const std::uint64_t all = total();
    std::uint64_t seen = 0;
    for (unsigned b = 0; b < kBuckets; ++b) {
      seen += counts_[b];
      if (all && static_cast<double>(seen) >= q * static_cast<double>(all)) return b;
    }
    return 0;
  }

 private:
  std::array<Counter, kBuckets> counts_{};
};

// Request sizes: <=512 B, <=1 KiB, ..., <=1 MiB, > 1 MiB.
class SizeHistogram : public Log2Histogram<13, 512> {
 public:
  // "512", "1K", ..., "1M", ">1M"
  static std::string label(unsigned bucket);
};

// Microseconds: <=1 us, <=2 us, ..., <=2^20 us (about 1 s), more.
class LatencyHistogram : public Log2Histogram<22, 1> {
 public:
  // "1us", "2us", ..., "1048576us", ">1048576us"
  static std::string label(unsigned bucket);
};

// One queue's counters, or a device's sum. A queue's are written by its thread only (Counter),
// so Device::stats() may read them while the queues run.
struct IoStats {
  Counter reads, writes, flushes, discards, other_ops;
  Counter read_bytes, write_bytes;
  Counter errors;         // requests completed with a negative result
  Counter enomem;         // of those, provider exhaustion
  Counter get_data;       // NEED_GET_DATA commands issued
  Counter kernel_copy_bytes;     // request data the kernel copied to/from our memory
  Counter userspace_copy_bytes;  // WRITE data memcpy'd in user space (app copy, target)
  Counter userspace_read_copy_bytes;  // READ data memcpy'd in user space (a target's receive staging)
  Counter acquires, acquire_failures;
  Counter exhaustion_waits;    // IOs parked until a provider buffer came back
  Counter handed_off;          // request buffers a target took ownership of
  Counter handed_back;         // of those, given back (the queue's home counts them)
  Counter double_completions;  // a target completed a request that was no longer its own
  Counter target_ios;          // SQEs a target queued on the queue's ring
  Counter zero_copy_ios;       // READs and WRITEs served from the request's own pages (zero_copy)
  Counter zero_copy_bytes;     // their bytes
  // With shared memory registered (DeviceConfig::shared_memory): READs and WRITEs whose pages the
  // kernel found in it (no copy), their bytes, and those it did not (served the mode's way).
  Counter shmem_zc_ios, shmem_zc_bytes, shmem_fallback_ios;
  SizeHistogram sizes;
  // For a target with a backend (TargetTraits::time_backend): each request's time from the
  // target's handle() to its completion reaching the queue, the backend's own latency.
  LatencyHistogram backend_latency_us;
  Counter backend_latency_ns;  // the sum of those times

  void merge(const IoStats& other) noexcept;
  // Buffers targets still hold.
  [[nodiscard]] std::uint64_t buffers_held() const noexcept {
    const std::uint64_t out = handed_off, back = handed_back;
    return out > back ? out - back : 0;
  }
  // Userspace bytes copied per WRITE byte (0 when nothing was written).
  [[nodiscard]] double userspace_copies_per_write_byte() const noexcept {
    const std::uint64_t copied = userspace_copy_bytes, written = write_bytes;
    return written ? static_cast<double>(copied) / static_cast<double>(written) : 0.0;
  }
  // Userspace bytes copied per READ byte (0 when nothing was read).
  [[nodiscard]] double userspace_copies_per_read_byte() const noexcept {
    const std::uint64_t copied = userspace_read_copy_bytes, read = read_bytes;
    return read ? static_cast<double>(copied) / static_cast<double>(read) : 0.0;
  }
};

}  // namespace ublk
