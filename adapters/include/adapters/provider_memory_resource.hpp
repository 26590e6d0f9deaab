#pragma once
#include <memory>
#include <memory_resource>
#include <mutex>
#include <unordered_map>

#include "pool/buffer_provider.hpp"

namespace adapters {

// The reverse adapter: a BufferProvider (libpool's SizeClassPool above all) as a
// std::pmr::memory_resource, so that pmr containers draw from it.
//
// A BufferProvider needs the whole Buffer back (capacity, cookie), and deallocate() only has
// the address, so the resource keeps a table of the buffers it handed out. Thread-safe.
// Failures throw std::bad_alloc, as the memory_resource contract asks. A request of 0 bytes
// takes 1; an alignment below the provider's is honoured by its page alignment.
class ProviderMemoryResource final : public std::pmr::memory_resource {
 public:
  explicit ProviderMemoryResource(std::shared_ptr<pool::BufferProvider> provider);
  ~ProviderMemoryResource() override;  // gives back whatever is still out
  ProviderMemoryResource(const ProviderMemoryResource&) = delete;
  ProviderMemoryResource& operator=(const ProviderMemoryResource&) = delete;

  [[nodiscard]] pool::BufferProvider& provider() const noexcept { return *provider_; }
  [[nodiscard]] std::size_t outstanding() const;

 private:
  void* do_allocate(std::size_t bytes, std::size_t alignment) override;
  void do_deallocate(void* p, std::size_t bytes, std::size_t alignment) override;
  [[nodiscard]] bool do_is_equal(const std::pmr::memory_resource& other) const noexcept override {
    return this == &other;
  }

  std::shared_ptr<pool::BufferProvider> provider_;
  mutable std::mutex mutex_;
  std::unordered_map<void*, pool::Buffer> out_;
};

}  // namespace adapters
