#pragma once
#include <memory>
#include <string>

#include "adapters/provider_config.hpp"
#include "adapters/stats_recorder.hpp"
#include "pool/buffer_provider.hpp"

namespace adapters {

class HugepageExtentHooks;

// jemalloc with a dedicated arena ("arenas.create"): buffers come from
// mallocx(MALLOCX_ARENA(a) | MALLOCX_ALIGN(4096 or more) | MALLOCX_TCACHE_NONE) and go back
// through sdallocx with the same size and flags, from any thread.
//
// Linking this file links libjemalloc, whose malloc then replaces glibc's for the whole
// process. The project builds it only into the plugin libublkpool_jemalloc.so, opened with
// dlopen(RTLD_LOCAL) (see docs/adapters.md).
class JemallocProvider final : public pool::BufferProvider {
 public:
  enum class Backing {
    jemalloc,  // the arena's default extent hooks (mmap of small pages, THP as the kernel likes)
    hugetlb,   // extent hooks that carve the arena from one MAP_HUGETLB region of byte_limit bytes
  };

  // Throws std::runtime_error when jemalloc refuses the arena, or when hugetlb backing is asked
  // for and the hugetlb region cannot be mapped.
  JemallocProvider(std::string name, ProviderConfig config, Backing backing = Backing::jemalloc);
  ~JemallocProvider() override;
  JemallocProvider(const JemallocProvider&) = delete;
  JemallocProvider& operator=(const JemallocProvider&) = delete;

  [[nodiscard]] std::string_view name() const noexcept override { return name_; }
  [[nodiscard]] pool::Expected<pool::Buffer> acquire(std::size_t length,
                                                     std::size_t alignment = pool::kPageSize) noexcept override;
  std::error_code release(const pool::Buffer& buffer) noexcept override;
  [[nodiscard]] std::size_t max_length() const noexcept override { return config_.max_length; }
  [[nodiscard]] std::optional<pool::ProviderStats> stats() const override;

  [[nodiscard]] unsigned arena() const noexcept { return arena_; }

 private:
  [[nodiscard]] int flags(std::size_t alignment) const noexcept;

  std::string name_;
  ProviderConfig config_;
  std::unique_ptr<HugepageExtentHooks> hooks_;
  unsigned arena_ = 0;
  StatsRecorder recorder_;
};

}  // namespace adapters
