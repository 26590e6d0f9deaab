#include "pool_model.hpp"

#include <algorithm>
#include <bit>

#include "check.hpp"

namespace fuzz {

namespace {
constexpr std::size_t kPage = pool::kPageSize;
constexpr std::size_t kChunkAlignment = std::size_t{2} << 20;
std::size_t round_up_to_page(std::size_t n) { return (n + kPage - 1) / kPage * kPage; }
}  // namespace

std::vector<std::size_t> documented_class_sizes(std::size_t max_size, unsigned steps) {
  std::vector<std::size_t> sizes;
  for (std::size_t power = kPage; power <= max_size; power *= 2) {
    for (unsigned step = 0; step < steps; ++step) {
      const std::size_t size = round_up_to_page(power + power * step / steps);
      if (size > max_size) break;
      if (sizes.empty() || size > sizes.back()) sizes.push_back(size);
    }
  }
  if (sizes.back() < max_size) sizes.push_back(max_size);
  return sizes;
}

std::size_t natural_alignment(std::size_t size) { return std::min(size & (~size + 1), kChunkAlignment); }

PoolModel::PoolModel(std::shared_ptr<pool::SizeClassPool> p, std::uint64_t gen)
    : pool(std::move(p)), generation(gen) {
  const auto& config = pool->config();
  sizes = documented_class_sizes(config.max_buffer_size, config.steps_per_doubling);
  expect(pool->classes().sizes() == sizes, "pool classes differ from the documented ones for max ",
         config.max_buffer_size, " steps ", config.steps_per_doubling);
  expect(pool->max_length() == config.max_buffer_size, "max_length ", pool->max_length());
  in_use.assign(sizes.size(), 0);
  served.assign(sizes.size(), false);
  footprint.assign(sizes.size(), 0);
  last_peak.assign(sizes.size(), 0);
}

std::size_t PoolModel::expected_class(std::size_t length, std::size_t alignment) const {
  if (length == 0 || length > pool->config().max_buffer_size || !std::has_single_bit(alignment))
    return pool::kNoClass;
  for (std::size_t i = 0; i < sizes.size(); ++i)
    if (sizes[i] >= length && (alignment <= kPage || natural_alignment(sizes[i]) >= alignment)) return i;
  return pool::kNoClass;
}

std::uint64_t PoolModel::live_buffers() const {
  std::uint64_t n = 0;
  for (auto v : in_use) n += v;
  return n;
}

void PoolModel::check() {
  const auto& config = pool->config();
  const auto stats = pool->stats();
  expect(stats.has_value(), "a SizeClassPool without stats");
  const auto mapped = pool->mapped_bytes();
  expect(stats->provider == config.name, "stats provider ", stats->provider);
  expect(stats->bytes_limit == config.byte_limit, "stats bytes_limit ", stats->bytes_limit);
  expect(config.byte_limit == 0 || mapped <= config.byte_limit, "mapped ", mapped, " bytes, above the limit ",
         config.byte_limit);
  expect(stats->bytes_in_use == bytes_in_use, "stats bytes_in_use ", stats->bytes_in_use, ", model ", bytes_in_use);
  expect(stats->acquire_failures == failures, "stats acquire_failures ", stats->acquire_failures, ", model ",
         failures);
  expect(stats->classes.size() == sizes.size(), "stats has ", stats->classes.size(), " classes, model ",
         sizes.size());
  std::uint64_t counted = 0;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    const auto& c = stats->classes[i];
    expect(c.size == sizes[i], "class ", i, " size ", c.size);
    expect(c.in_use == in_use[i], "class ", i, " (", sizes[i], " B) in_use ", c.in_use, ", model ", in_use[i]);
    expect(c.peak >= c.in_use && c.peak >= last_peak[i], "class ", i, " peak ", c.peak, " below in_use ",
           c.in_use, " or the last peak ", last_peak[i]);
    last_peak[i] = c.peak;
    counted += c.hits + c.misses;
  }
  expect(counted == class_acquisitions, "hits + misses ", counted, ", valid acquisitions ", class_acquisitions);
  const auto& b = stats->backing;
  expect(b.hugetlb_bytes + b.thp_bytes + b.small_page_bytes + b.shmem_bytes + b.other_bytes == mapped,
         "backing bytes ", b.hugetlb_bytes, "+", b.thp_bytes, "+", b.small_page_bytes, "+", b.shmem_bytes, "+",
         b.other_bytes, " != mapped ", mapped);
  expect(b.hugetlb_bytes == 0 && b.other_bytes == 0, "hugetlb/other bytes without hugetlb backing");
  if (config.backing == pool::BackingPolicy::none)
    expect(b.small_page_bytes == mapped, "backing none, yet ", b.thp_bytes, " THP bytes");
}

}  // namespace fuzz
