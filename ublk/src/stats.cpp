#include "ublk/stats.hpp"

namespace ublk {

std::string SizeHistogram::label(unsigned bucket) {
  if (bucket + 1 >= kBuckets) return ">" + label(kBuckets - 2);
  const std::uint64_t bound = upper_bound(bucket);
  if (bound >= (1U << 20)) return std::to_string(bound >> 20) + "M";
  if (bound >= (1U << 10)) return std::to_string(bound >> 10) + "K";
  return std::to_string(bound);
}

std::string LatencyHistogram::label(unsigned bucket) {
  if (bucket + 1 >= kBuckets) return ">" + label(kBuckets - 2);
  return std::to_string(upper_bound(bucket)) + "us";
}

void IoStats::merge(const IoStats& o) noexcept {
  reads += o.reads;
  writes += o.writes;
  flushes += o.flushes;
  discards += o.discards;
  other_ops += o.other_ops;
  read_bytes += o.read_bytes;
  write_bytes += o.write_bytes;
  errors += o.errors;
  enomem += o.enomem;
  get_data += o.get_data;
  kernel_copy_bytes += o.kernel_copy_bytes;
  userspace_copy_bytes += o.userspace_copy_bytes;
  userspace_read_copy_bytes += o.userspace_read_copy_bytes;
  acquires += o.acquires;
  acquire_failures += o.acquire_failures;
  exhaustion_waits += o.exhaustion_waits;
  handed_off += o.handed_off;
  handed_back += o.handed_back;
  double_completions += o.double_completions;
  target_ios += o.target_ios;
  zero_copy_ios += o.zero_copy_ios;
  zero_copy_bytes += o.zero_copy_bytes;
  shmem_zc_ios += o.shmem_zc_ios;
  shmem_zc_bytes += o.shmem_zc_bytes;
  shmem_fallback_ios += o.shmem_fallback_ios;
  sizes.merge(o.sizes);
  backend_latency_us.merge(o.backend_latency_us);
  backend_latency_ns += o.backend_latency_ns;
}

}  // namespace ublk
