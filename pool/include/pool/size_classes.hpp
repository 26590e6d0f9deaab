#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "pool/buffer.hpp"

namespace pool {

inline constexpr std::size_t kMaxBufferSizeLimit = std::size_t{32} << 20;  // ublk's largest IO
inline constexpr std::size_t kNoClass = static_cast<std::size_t>(-1);

// The pool's buffer sizes: multiples of 4 KiB from 4 KiB to `max_size`, powers of two plus
// `steps_per_doubling - 1` evenly spaced sizes between each pair of them (rounded up to 4 KiB).
// Throws std::invalid_argument at construction for a max_size that is not a multiple of 4 KiB
// in [4 KiB, 32 MiB] or steps outside [1, 8].
class SizeClasses {
 public:
  SizeClasses(std::size_t max_size, unsigned steps_per_doubling);

  [[nodiscard]] std::size_t count() const noexcept { return sizes_.size(); }
  [[nodiscard]] std::size_t size(std::size_t index) const noexcept { return sizes_[index]; }
  [[nodiscard]] std::size_t max_size() const noexcept { return max_size_; }
  [[nodiscard]] const std::vector<std::size_t>& sizes() const noexcept { return sizes_; }

  // The smallest class holding `length` bytes, or kNoClass for 0 or above max_size().
  [[nodiscard]] std::size_t index_for(std::size_t length) const noexcept {
    if (length - 1 >= max_size_) return kNoClass;  // 0 wraps around
    return index_by_pages_[(length + kPageSize - 1) / kPageSize];
  }

  // The largest power of two every buffer of the class is aligned to (chunks start 2 MiB-aligned).
  [[nodiscard]] std::size_t natural_alignment(std::size_t index) const noexcept;

  // The smallest class holding `length` bytes whose buffers are aligned to `alignment` (a power
  // of two), or kNoClass.
  [[nodiscard]] std::size_t index_for(std::size_t length, std::size_t alignment) const noexcept {
    if (alignment <= kPageSize && alignment != 0 && (alignment & (alignment - 1)) == 0) return index_for(length);
    return index_for_large_alignment(length, alignment);
  }

 private:
  [[nodiscard]] std::size_t index_for_large_alignment(std::size_t length, std::size_t alignment) const noexcept;

  std::vector<std::size_t> sizes_;
  std::vector<std::uint8_t> index_by_pages_;
  std::size_t max_size_ = 0;
};

}  // namespace pool
