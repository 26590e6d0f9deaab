#pragma once
#include <memory>

#include "pool/buffer_provider.hpp"

namespace ublk::cli {

// --poison-released, a test aid: every buffer released through this provider or one of its
// caches is scribbled over (0xa5) first, so that a kernel copy out of a buffer after its release
// corrupts data that fio then verifies. Everything else goes to the provider it wraps.
class PoisoningProvider final : public pool::BufferProvider {
 public:
  static constexpr unsigned char kPoison = 0xa5;
  explicit PoisoningProvider(pool::BufferProvider& inner) noexcept : inner_(inner) {}

  [[nodiscard]] std::string_view name() const noexcept override { return inner_.name(); }
  [[nodiscard]] pool::Expected<pool::Buffer> acquire(std::size_t length,
                                                     std::size_t alignment = pool::kPageSize) noexcept override {
    return inner_.acquire(length, alignment);
  }
  std::error_code release(const pool::Buffer& buffer) noexcept override;
  [[nodiscard]] std::size_t max_length() const noexcept override { return inner_.max_length(); }
  [[nodiscard]] std::optional<pool::ProviderStats> stats() const override { return inner_.stats(); }
  [[nodiscard]] std::unique_ptr<pool::BufferCache> make_cache() override;

  static void poison(const pool::Buffer& buffer) noexcept;

 private:
  pool::BufferProvider& inner_;
};

}  // namespace ublk::cli
