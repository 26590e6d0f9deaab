#include "pool/size_classes.hpp"

#include <algorithm>
#include <bit>
#include <stdexcept>
#include <string>

namespace pool {

namespace {
constexpr std::size_t kChunkAlignment = std::size_t{2} << 20;

std::size_t round_up_to_page(std::size_t n) { return (n + kPageSize - 1) / kPageSize * kPageSize; }
}  // namespace

SizeClasses::SizeClasses(std::size_t max_size, unsigned steps_per_doubling) {
  if (max_size < kPageSize || max_size > kMaxBufferSizeLimit || max_size % kPageSize != 0)
    throw std::invalid_argument("pool: max_buffer_size must be a multiple of 4096 in [4 KiB, 32 MiB], got " +
                                std::to_string(max_size));
  if (steps_per_doubling < 1 || steps_per_doubling > 8)
    throw std::invalid_argument("pool: steps_per_doubling must be in [1, 8], got " +
                                std::to_string(steps_per_doubling));
  for (std::size_t power = kPageSize; power <= max_size; power *= 2) {
    for (unsigned step = 0; step < steps_per_doubling; ++step) {
      std::size_t size = round_up_to_page(power + power * step / steps_per_doubling);
      if (size > max_size) break;
      if (sizes_.empty() || size > sizes_.back()) sizes_.push_back(size);
    }
  }
  if (sizes_.back() < max_size) sizes_.push_back(max_size);
  max_size_ = max_size;

  index_by_pages_.resize(max_size / kPageSize + 1);
  std::size_t index = 0;
  for (std::size_t pages = 1; pages < index_by_pages_.size(); ++pages) {
    while (sizes_[index] < pages * kPageSize) ++index;
    index_by_pages_[pages] = static_cast<std::uint8_t>(index);
  }
}

std::size_t SizeClasses::natural_alignment(std::size_t index) const noexcept {
  const std::size_t size = sizes_[index];
  return std::min(size & (~size + 1), kChunkAlignment);
}

std::size_t SizeClasses::index_for_large_alignment(std::size_t length, std::size_t alignment) const noexcept {
  if (!std::has_single_bit(alignment)) return kNoClass;
  std::size_t index = index_for(length);
  if (index == kNoClass || alignment <= kPageSize) return index;
  if (alignment > kChunkAlignment) return kNoClass;
  while (index < sizes_.size() && natural_alignment(index) < alignment) ++index;
  return index < sizes_.size() ? index : kNoClass;
}

}  // namespace pool
