#include "poisoning_provider.hpp"

#include <cstring>

namespace ublk::cli {

namespace {
class PoisoningCache final : public pool::BufferCache {
 public:
  PoisoningCache(std::unique_ptr<pool::BufferCache> inner, pool::BufferProvider& outer) noexcept
      : inner_(std::move(inner)), outer_(outer) {}
  [[nodiscard]] pool::Expected<pool::Buffer> acquire(std::size_t length,
                                                     std::size_t alignment = pool::kPageSize) noexcept override {
    return inner_->acquire(length, alignment);
  }
  std::error_code release(const pool::Buffer& buffer) noexcept override {
    PoisoningProvider::poison(buffer);
    return inner_->release(buffer);
  }
  [[nodiscard]] pool::BufferProvider& provider() noexcept override { return outer_; }

 private:
  std::unique_ptr<pool::BufferCache> inner_;
  pool::BufferProvider& outer_;
};
}  // namespace

void PoisoningProvider::poison(const pool::Buffer& buffer) noexcept {
  if (buffer.data) std::memset(buffer.data, kPoison, buffer.length);
}

std::error_code PoisoningProvider::release(const pool::Buffer& buffer) noexcept {
  poison(buffer);
  return inner_.release(buffer);
}

std::unique_ptr<pool::BufferCache> PoisoningProvider::make_cache() {
  return std::make_unique<PoisoningCache>(inner_.make_cache(), *this);
}

}  // namespace ublk::cli
