#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <system_error>
#include <vector>

#include "pool/expected.hpp"
#include "pool/size_classes.hpp"

namespace pool {

// Size-class buffers carved from one given span of memory (a shared arena): a free list per
// class, filled by carving the span from its start. A freed buffer serves its own class again.
// No locks: one thread at a time, or the caller's lock. Nothing is written into the span itself,
// so what another process does there cannot corrupt the allocator.
class ArenaAllocator {
 public:
  // `memory` page-aligned, a whole number of pages. Throws std::invalid_argument otherwise.
  ArenaAllocator(std::span<std::byte> memory, const SizeClasses& classes);

  // A buffer of at least `length` bytes, page-aligned. invalid_argument for 0 or more than the
  // largest class, not_enough_memory when the span has no room left for that class.
  [[nodiscard]] Expected<std::byte*> acquire(std::size_t length) noexcept;
  // invalid_argument for an address that is not a buffer of this arena handed out now.
  std::error_code release(const void* data) noexcept;
  // The class size of a buffer handed out now, or 0.
  [[nodiscard]] std::size_t capacity(const void* data) const noexcept;
  [[nodiscard]] bool contains(const void* data) const noexcept;
  [[nodiscard]] std::size_t bytes_out() const noexcept { return bytes_out_; }
  [[nodiscard]] std::span<std::byte> memory() const noexcept { return memory_; }

 private:
  static constexpr std::uint8_t kNoBuffer = 0xff;
  [[nodiscard]] std::size_t page_of(const void* data) const noexcept;

  std::span<std::byte> memory_;
  const SizeClasses& classes_;
  std::vector<std::uint8_t> head_class_;   // per page: the class of the buffer starting there, or kNoBuffer
  std::vector<bool> out_;                  // per page: the buffer starting there is handed out
  std::vector<std::vector<std::uint32_t>> free_;  // per class: first pages of its free buffers
  std::size_t carved_pages_ = 0;
  std::size_t bytes_out_ = 0;
};

}  // namespace pool
