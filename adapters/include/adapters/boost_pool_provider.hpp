#pragma once
#include <memory>
#include <string>
#include <vector>

#include "adapters/provider_config.hpp"
#include "adapters/stats_recorder.hpp"
#include "pool/buffer_provider.hpp"

namespace adapters {

// boost::pool<>, one per size class (4 KiB, 8 KiB, ... up to max_length, powers of two), each
// drawing its blocks from a 4096-aligned user allocator so that every chunk is page aligned.
// boost::pool is not thread-safe: each class has its own lock. Alignments up to 4096.
class BoostPoolProvider final : public pool::BufferProvider {
 public:
  BoostPoolProvider(std::string name, ProviderConfig config);
  ~BoostPoolProvider() override;

  [[nodiscard]] std::string_view name() const noexcept override { return name_; }
  [[nodiscard]] pool::Expected<pool::Buffer> acquire(std::size_t length,
                                                     std::size_t alignment = pool::kPageSize) noexcept override;
  std::error_code release(const pool::Buffer& buffer) noexcept override;
  [[nodiscard]] std::size_t max_length() const noexcept override { return config_.max_length; }
  [[nodiscard]] std::optional<pool::ProviderStats> stats() const override { return recorder_.snapshot(); }

 private:
  struct SizeClass;

  std::string name_;
  ProviderConfig config_;
  std::vector<std::unique_ptr<SizeClass>> classes_;
  StatsRecorder recorder_;
};

}  // namespace adapters
