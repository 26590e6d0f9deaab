#include "pool/size_class_pool.hpp"

#include <stdexcept>

#include "pool/registry.hpp"
#include "pool_core.hpp"

namespace pool {

SizeClassPool::SizeClassPool(PoolConfig config)
    : core_(std::make_unique<detail::PoolCore>(std::move(config), *this)) {}

SizeClassPool::~SizeClassPool() = default;

std::string_view SizeClassPool::name() const noexcept { return core_->config.name; }

Expected<Buffer> SizeClassPool::acquire(std::size_t length, std::size_t alignment) noexcept {
  return core_->acquire(length, alignment);
}

std::error_code SizeClassPool::release(const Buffer& buffer) noexcept {
  if (buffer.owner != this) return std::make_error_code(std::errc::invalid_argument);
  return core_->release(buffer.data);
}

std::error_code SizeClassPool::release(void* data) noexcept { return core_->release(data); }

std::size_t SizeClassPool::max_length() const noexcept { return core_->classes.max_size(); }

std::optional<ProviderStats> SizeClassPool::stats() const { return core_->stats(); }

std::unique_ptr<BufferCache> SizeClassPool::make_cache() { return std::make_unique<Cache>(*this); }

const PoolConfig& SizeClassPool::config() const noexcept { return core_->config; }

const SizeClasses& SizeClassPool::classes() const noexcept { return core_->classes; }

std::optional<std::size_t> SizeClassPool::class_of(const void* data) const noexcept {
  const detail::Chunk* chunk = core_->find_chunk(data);
  if (!chunk) return std::nullopt;
  return chunk->class_index;
}

std::uint64_t SizeClassPool::mapped_bytes() const noexcept { return core_->mapped_bytes(); }

std::size_t SizeClassPool::trim() noexcept { return core_->trim(); }

std::error_code SizeClassPool::reserve(std::size_t length, std::size_t count) noexcept {
  return core_->reserve(length, count);
}

std::vector<iovec> SizeClassPool::register_fixed_buffers() { return core_->register_fixed_buffers(); }

void SizeClassPool::unregister_fixed_buffers() noexcept { core_->unregister_fixed_buffers(); }

std::vector<SharedRegion> SizeClassPool::shared_regions() const { return core_->shared_regions(); }

std::optional<FixedBufferRef> SizeClassPool::fixed_buffer(const void* data) const noexcept {
  return core_->fixed_buffer(data);
}

std::shared_ptr<SizeClassPool> make_pool(PoolConfig config) {
  return std::make_shared<SizeClassPool>(std::move(config));
}

std::shared_ptr<SizeClassPool> make_default_pool(PoolConfig config) {
  auto pool = make_pool(std::move(config));
  if (!registry().add(std::string(pool->name()), pool))
    throw std::runtime_error("pool: a provider named \"" + std::string(pool->name()) + "\" is already registered");
  return pool;
}

}  // namespace pool
