#pragma once
#include <memory>
#include <string>

#include "adapters/provider_config.hpp"
#include "adapters/stats_recorder.hpp"
#include "pool/buffer_provider.hpp"

namespace adapters {

// mimalloc. A mimalloc heap may only allocate on the thread that created it, so:
//  - acquire() on the provider (any thread) allocates from the calling thread's own default
//    heap (mi_malloc_aligned);
//  - make_cache() gives a cache (one per ublk queue) with a dedicated heap, made by the first
//    thread that acquires through it; an acquire from any other thread falls back to that
//    thread's default heap instead of touching a heap it does not own;
//  - release() from any thread is mi_free, which mimalloc allows for every block.
// A cache destroyed on its heap's thread deletes the heap (mimalloc moves blocks still out to the
// thread's default heap, they stay valid); destroyed elsewhere, it leaves the heap to
// mimalloc, which deletes it when that thread exits.
//
// Linking this file links libmimalloc, whose malloc then replaces glibc's for the whole
// process. The project builds it only into the plugin libublkpool_mimalloc.so (docs/adapters.md).
class MimallocProvider final : public pool::BufferProvider {
 public:
  MimallocProvider(std::string name, ProviderConfig config);

  [[nodiscard]] std::string_view name() const noexcept override { return name_; }
  [[nodiscard]] pool::Expected<pool::Buffer> acquire(std::size_t length,
                                                     std::size_t alignment = pool::kPageSize) noexcept override;
  std::error_code release(const pool::Buffer& buffer) noexcept override;
  [[nodiscard]] std::size_t max_length() const noexcept override { return config_.max_length; }
  [[nodiscard]] std::optional<pool::ProviderStats> stats() const override { return recorder_.snapshot(); }
  [[nodiscard]] std::unique_ptr<pool::BufferCache> make_cache() override;

 private:
  friend class MimallocCache;
  // Allocates with `heap` (null: the calling thread's default heap), which must belong to the
  // calling thread.
  pool::Expected<pool::Buffer> acquire_from(void* heap, std::size_t length, std::size_t alignment) noexcept;

  std::string name_;
  ProviderConfig config_;
  StatsRecorder recorder_;
};

}  // namespace adapters
