#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <sys/uio.h>
#include <vector>

#include "pool/buffer_provider.hpp"
#include "pool/size_classes.hpp"

namespace pool {

namespace detail {
class PoolCore;
}
class Cache;

// Where the pool's memory comes from. automatic: hugetlb, else THP, else 4 KiB pages.
enum class BackingPolicy { automatic, hugetlb, thp, none };

struct PoolConfig {
  std::string name = "pool";                  // the registry name and stats "provider"
  std::size_t max_buffer_size = std::size_t{1} << 20;  // multiple of 4 KiB, up to 32 MiB
  unsigned steps_per_doubling = 1;            // 1: powers of two; 2: also halfway: 4K, 8K, 12K, 16K, 24K,
                                              // 32K, 48K, ... (classes are whole pages: no 6K)
  std::size_t byte_limit = 0;                 // most bytes the pool maps; 0: no limit
  BackingPolicy backing = BackingPolicy::automatic;
  bool hugetlb_1g = false;                    // try 1 GiB hugetlb regions before 2 MiB ones
  std::size_t cache_bytes = std::size_t{2} << 20;  // a Cache keeps about this much per class
  // Regions are memfds mapped MAP_SHARED (2 MiB hugetlb pages where the backing policy allows and
  // the pages are free, else shmem), so that another process can map them (shared_regions()).
  // A shared pool keeps its regions mapped until it is destroyed: the other side may use them.
  bool shared = false;
};

// A region of a shared pool: its memfd (owned by the pool) and where this process maps it.
struct SharedRegion {
  int fd = -1;
  std::byte* data = nullptr;
  std::size_t bytes = 0;
  bool hugetlb = false;
};

// A registered io_uring fixed buffer: the index in the iovec array, and the offset in it.
struct FixedBufferRef {
  unsigned buf_index = 0;
  std::size_t offset = 0;
};

// A size-class buffer pool over hugepage-backed regions. Thread-safe; a Cache gives one thread
// a lock-free fast path. Buffers and caches must not outlive the pool (a Cache made from a
// pool owned by a shared_ptr keeps it alive).
class SizeClassPool final : public BufferProvider, public std::enable_shared_from_this<SizeClassPool> {
 public:
  explicit SizeClassPool(PoolConfig config = {});  // throws std::invalid_argument on a bad config
  ~SizeClassPool() override;
  SizeClassPool(const SizeClassPool&) = delete;
  SizeClassPool& operator=(const SizeClassPool&) = delete;

  [[nodiscard]] std::string_view name() const noexcept override;
  [[nodiscard]] Expected<Buffer> acquire(std::size_t length,
                                         std::size_t alignment = kPageSize) noexcept override;
  std::error_code release(const Buffer& buffer) noexcept override;
  // Release by address alone: the pool finds the buffer's chunk and class.
  std::error_code release(void* data) noexcept;
  [[nodiscard]] std::size_t max_length() const noexcept override;
  [[nodiscard]] std::optional<ProviderStats> stats() const override;
  [[nodiscard]] std::unique_ptr<BufferCache> make_cache() override;

  [[nodiscard]] const PoolConfig& config() const noexcept;
  [[nodiscard]] const SizeClasses& classes() const noexcept;
  // The class and capacity of a buffer of this pool, or std::nullopt for any other address.
  [[nodiscard]] std::optional<std::size_t> class_of(const void* data) const noexcept;
  [[nodiscard]] std::uint64_t mapped_bytes() const noexcept;

  // Unmaps every chunk none of whose buffers is out or in a cache. Returns the bytes unmapped.
  std::size_t trim() noexcept;

  // Maps enough chunks that `count` buffers of `length` bytes are free (e.g. before registering
  // fixed buffers). not_enough_memory past the byte limit.
  std::error_code reserve(std::size_t length, std::size_t count) noexcept;

  // io_uring fixed buffers: the regions mapped now, for io_uring_register_buffers. Until
  // unregister_fixed_buffers(), these regions are never unmapped by trim(); regions mapped later
  // are not part of the registration (fixed_buffer() gives nullopt for their buffers).
  [[nodiscard]] std::vector<iovec> register_fixed_buffers();
  void unregister_fixed_buffers() noexcept;
  [[nodiscard]] std::optional<FixedBufferRef> fixed_buffer(const void* data) const noexcept;

  // A shared pool's regions mapped now (PoolConfig::shared; empty for any other pool).
  [[nodiscard]] std::vector<SharedRegion> shared_regions() const;

  detail::PoolCore& core() noexcept { return *core_; }

 private:
  std::unique_ptr<detail::PoolCore> core_;
};

// A pool that is not registered anywhere.
std::shared_ptr<SizeClassPool> make_pool(PoolConfig config = {});
// A pool registered in pool::registry() under config.name (default "pool"). Throws
// std::runtime_error if the name is taken.
std::shared_ptr<SizeClassPool> make_default_pool(PoolConfig config = {});

}  // namespace pool

#include "pool/cache.hpp"
