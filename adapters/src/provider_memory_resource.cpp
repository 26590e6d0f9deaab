#include "adapters/provider_memory_resource.hpp"

#include <algorithm>
#include <new>

namespace adapters {

ProviderMemoryResource::ProviderMemoryResource(std::shared_ptr<pool::BufferProvider> provider)
    : provider_(std::move(provider)) {
  if (!provider_) throw std::invalid_argument("ProviderMemoryResource: null provider");
}

ProviderMemoryResource::~ProviderMemoryResource() {
  for (const auto& [data, buffer] : out_) (void)provider_->release(buffer);
}

std::size_t ProviderMemoryResource::outstanding() const {
  std::lock_guard lock(mutex_);
  return out_.size();
}

void* ProviderMemoryResource::do_allocate(std::size_t bytes, std::size_t alignment) {
  auto buffer = provider_->acquire(std::max<std::size_t>(bytes, 1), alignment);
  if (!buffer) throw std::bad_alloc();
  void* data = buffer->data;
  try {
    std::lock_guard lock(mutex_);
    out_.emplace(data, *buffer);
  } catch (...) {
    (void)provider_->release(*buffer);
    throw;
  }
  return data;
}

void ProviderMemoryResource::do_deallocate(void* p, std::size_t, std::size_t) {
  pool::Buffer buffer;
  {
    std::lock_guard lock(mutex_);
    auto it = out_.find(p);
    if (it == out_.end()) return;  // not ours: undefined by the pmr contract; ignore it
    buffer = it->second;
    out_.erase(it);
  }
  (void)provider_->release(buffer);
}

}  // namespace adapters
