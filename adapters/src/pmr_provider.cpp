#include "adapters/pmr_provider.hpp"

#include <new>

#include "adapters/request_check.hpp"

namespace adapters {

PmrProvider::PmrProvider(std::string name, std::pmr::memory_resource* resource, ProviderConfig config,
                         Threading threading)
    : name_(std::move(name)),
      resource_(resource),
      config_(config),
      threading_(threading),
      recorder_(name_, config.max_length, config.byte_limit) {
  if (!resource_) throw std::invalid_argument("PmrProvider: null memory_resource");
}

PmrProvider::PmrProvider(std::string name, std::unique_ptr<std::pmr::memory_resource> resource,
                         ProviderConfig config, Threading threading)
    : PmrProvider(std::move(name), resource.get(), config, threading) {
  owned_ = std::move(resource);
}

void* PmrProvider::allocate(std::size_t length, std::size_t alignment) {
  if (threading_ == Threading::thread_safe) return resource_->allocate(length, alignment);
  std::lock_guard lock(mutex_);
  return resource_->allocate(length, alignment);
}

void PmrProvider::deallocate(void* data, std::size_t length, std::size_t alignment) {
  if (threading_ == Threading::thread_safe) return resource_->deallocate(data, length, alignment);
  std::lock_guard lock(mutex_);
  resource_->deallocate(data, length, alignment);
}

pool::Expected<pool::Buffer> PmrProvider::acquire(std::size_t length, std::size_t alignment) noexcept {
  if (auto bad = check_request(length, alignment, config_.max_length, kMaxAlignment)) {
    recorder_.refuse();
    return bad;
  }
  if (!recorder_.reserve(length)) return std::errc::not_enough_memory;
  void* data = nullptr;
  try {
    data = allocate(length, alignment);
  } catch (...) {  // std::bad_alloc, or whatever a user resource throws: all mean "no memory"
    data = nullptr;
  }
  if (!data) {
    recorder_.cancel(length);
    return std::errc::not_enough_memory;
  }
  recorder_.commit(length);
  // The cookie keeps the alignment, so that deallocate() gets exactly what allocate() got.
  return pool::Buffer{static_cast<std::byte*>(data), length, length, this, alignment};
}

std::error_code PmrProvider::release(const pool::Buffer& buffer) noexcept {
  if (buffer.owner != this || !buffer.data || buffer.length == 0)
    return std::make_error_code(std::errc::invalid_argument);
  try {
    deallocate(buffer.data, buffer.length, buffer.cookie);
  } catch (...) {  // a deallocate that throws breaks the pmr contract; report, do not propagate
    return std::make_error_code(std::errc::invalid_argument);
  }
  recorder_.release(buffer.length);
  return {};
}

}  // namespace adapters
