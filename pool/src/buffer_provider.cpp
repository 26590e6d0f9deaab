#include "pool/buffer_provider.hpp"

namespace pool {

namespace {
// For providers without a per-thread fast path: every call goes to the provider.
class ForwardingCache final : public BufferCache {
 public:
  explicit ForwardingCache(BufferProvider& provider) : provider_(provider) {}
  Expected<Buffer> acquire(std::size_t length, std::size_t alignment) noexcept override {
    return provider_.acquire(length, alignment);
  }
  std::error_code release(const Buffer& buffer) noexcept override { return provider_.release(buffer); }
  BufferProvider& provider() noexcept override { return provider_; }

 private:
  BufferProvider& provider_;
};
}  // namespace

std::unique_ptr<BufferCache> BufferProvider::make_cache() {
  return std::make_unique<ForwardingCache>(*this);
}

}  // namespace pool
