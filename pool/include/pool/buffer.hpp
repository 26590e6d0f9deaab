#pragma once
#include <cstddef>
#include <cstdint>

namespace pool {

class BufferProvider;

inline constexpr std::size_t kPageSize = 4096;

// A buffer handed out by a BufferProvider. Plain data: whoever holds it must give it back
// to `owner` (or to a cache of `owner`), exactly once.
struct Buffer {
  std::byte* data = nullptr;
  std::size_t length = 0;    // bytes asked for
  std::size_t capacity = 0;  // bytes usable, >= length
  BufferProvider* owner = nullptr;
  std::uintptr_t cookie = 0;  // the owner's private word (its size class, arena, ...)

  explicit operator bool() const noexcept { return data != nullptr; }
};

}  // namespace pool
