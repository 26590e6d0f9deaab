#pragma once
#include <memory>
#include <memory_resource>
#include <mutex>
#include <string>

#include "adapters/provider_config.hpp"
#include "adapters/stats_recorder.hpp"
#include "pool/buffer_provider.hpp"

namespace adapters {

// Any std::pmr::memory_resource as a BufferProvider. deallocate() gets back exactly the size
// and alignment allocate() was given; alignments above alignof(max_align_t) (4096 and up) are
// passed through, and a length below the alignment is passed as is.
class PmrProvider final : public pool::BufferProvider {
 public:
  // Whether the resource may be called from several threads at once (new_delete_resource and
  // synchronized_pool_resource may; monotonic_buffer_resource and unsynchronized_pool_resource
  // may not, and get a lock).
  enum class Threading { thread_safe, needs_lock };

  // `resource` must outlive the provider.
  PmrProvider(std::string name, std::pmr::memory_resource* resource, ProviderConfig config,
              Threading threading = Threading::thread_safe);
  // The provider owns the resource.
  PmrProvider(std::string name, std::unique_ptr<std::pmr::memory_resource> resource,
              ProviderConfig config, Threading threading = Threading::thread_safe);

  [[nodiscard]] std::string_view name() const noexcept override { return name_; }
  [[nodiscard]] pool::Expected<pool::Buffer> acquire(std::size_t length,
                                                     std::size_t alignment = pool::kPageSize) noexcept override;
  std::error_code release(const pool::Buffer& buffer) noexcept override;
  [[nodiscard]] std::size_t max_length() const noexcept override { return config_.max_length; }
  [[nodiscard]] std::optional<pool::ProviderStats> stats() const override { return recorder_.snapshot(); }

 private:
  void* allocate(std::size_t length, std::size_t alignment);
  void deallocate(void* data, std::size_t length, std::size_t alignment);

  std::string name_;
  std::unique_ptr<std::pmr::memory_resource> owned_;
  std::pmr::memory_resource* resource_;
  ProviderConfig config_;
  Threading threading_;
  std::mutex mutex_;
  StatsRecorder recorder_;
};

}  // namespace adapters
