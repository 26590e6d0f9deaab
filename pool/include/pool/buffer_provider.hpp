#pragma once
#include <memory>
#include <optional>
#include <string_view>
#include <system_error>

#include "pool/buffer.hpp"
#include "pool/expected.hpp"
#include "pool/stats.hpp"

namespace pool {

class BufferCache;

// What every allocator implements: libpool's SizeClassPool and every adapter.
//
// Errors, never exceptions or aborts:
//   std::errc::not_enough_memory  the provider is exhausted or at its byte limit (-> -ENOMEM)
//   std::errc::invalid_argument   length 0 or above max_length(), alignment not a power of two
//                                 or above what the provider supports, a buffer it does not own
class BufferProvider {
 public:
  virtual ~BufferProvider() = default;

  [[nodiscard]] virtual std::string_view name() const noexcept = 0;

  // Thread-safe. The buffer's data is aligned to `alignment` and holds at least `length` bytes.
  [[nodiscard]] virtual Expected<Buffer> acquire(std::size_t length,
                                                 std::size_t alignment = kPageSize) noexcept = 0;

  // Thread-safe, from any thread. `buffer` must have come from this provider.
  virtual std::error_code release(const Buffer& buffer) noexcept = 0;

  // The largest length acquire() accepts.
  [[nodiscard]] virtual std::size_t max_length() const noexcept = 0;

  [[nodiscard]] virtual std::optional<ProviderStats> stats() const { return std::nullopt; }

  // A cache for one thread (one ublk queue). The default forwards to the provider; providers
  // with a real per-thread fast path return their own.
  [[nodiscard]] virtual std::unique_ptr<BufferCache> make_cache();
};

// Owned by one thread; acquire and release without locks where the provider allows it.
// release() accepts any buffer of the same provider, also one acquired by another cache.
class BufferCache {
 public:
  virtual ~BufferCache() = default;
  [[nodiscard]] virtual Expected<Buffer> acquire(std::size_t length,
                                                 std::size_t alignment = kPageSize) noexcept = 0;
  virtual std::error_code release(const Buffer& buffer) noexcept = 0;
  [[nodiscard]] virtual BufferProvider& provider() noexcept = 0;
};

}  // namespace pool
