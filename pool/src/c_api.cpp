// The C ABI (pool/pool.h) over SizeClassPool, CallbackProvider and the registry.
#include "pool/pool.h"

#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <new>
#include <string>

#include "pool/callback_provider.hpp"
#include "pool/registry.hpp"
#include "pool/size_class_pool.hpp"
#include "pool/version.h"

struct ublkpool_pool {
  std::shared_ptr<pool::SizeClassPool> pool;
};

namespace {

int to_errno(std::error_code error) {
  if (!error) return 0;
  if (error == std::errc::not_enough_memory) return -ENOMEM;
  if (error == std::errc::invalid_argument) return -EINVAL;
  return error.category() == std::system_category() ? -error.value() : -EIO;
}

template <class F>
int guarded(F&& body) noexcept {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    return -ENOMEM;
  } catch (...) {
    return -EINVAL;
  }
}

// C callers keep only the address; a provider's release() wants the whole Buffer.
struct OutstandingBuffer {
  pool::Buffer buffer;
  std::shared_ptr<pool::BufferProvider> provider;
};
struct OutstandingTable {
  std::mutex mutex;
  std::unordered_map<void*, OutstandingBuffer> buffers;
};
OutstandingTable& outstanding() {
  static OutstandingTable table;
  return table;
}

std::shared_ptr<pool::BufferProvider> find_provider(const char* name) {
  return name ? pool::registry().find(name) : pool::registry().default_provider();
}

}  // namespace

extern "C" {

const char* ublkpool_version(void) { return UBLKPOOL_VERSION_STRING; }

void ublkpool_config_init(ublkpool_config* config) {
  if (!config) return;
  const pool::PoolConfig defaults;
  config->max_buffer_size = defaults.max_buffer_size;
  config->steps_per_doubling = defaults.steps_per_doubling;
  config->byte_limit = defaults.byte_limit;
  config->backing = UBLKPOOL_BACKING_AUTO;
  config->hugetlb_1g = 0;
}

int ublkpool_create(const ublkpool_config* config, ublkpool_pool** out) {
  if (!out) return -EINVAL;
  *out = nullptr;
  return guarded([&] {
    pool::PoolConfig cfg;
    if (config) {
      if (config->backing < UBLKPOOL_BACKING_AUTO || config->backing > UBLKPOOL_BACKING_NONE) return -EINVAL;
      cfg.max_buffer_size = config->max_buffer_size;
      cfg.steps_per_doubling = config->steps_per_doubling;
      cfg.byte_limit = config->byte_limit;
      cfg.backing = static_cast<pool::BackingPolicy>(config->backing);
      cfg.hugetlb_1g = config->hugetlb_1g != 0;
    }
    *out = new ublkpool_pool{pool::make_pool(std::move(cfg))};
    return 0;
  });
}

void ublkpool_destroy(ublkpool_pool* pool) { delete pool; }

int ublkpool_alloc(ublkpool_pool* pool, size_t length, size_t alignment, void** out) {
  if (!pool || !out) return -EINVAL;
  auto buffer = pool->pool->acquire(length, alignment ? alignment : pool::kPageSize);
  *out = buffer ? buffer->data : nullptr;
  return to_errno(buffer.error());
}

int ublkpool_free(ublkpool_pool* pool, void* data) {
  if (!pool) return -EINVAL;
  return to_errno(pool->pool->release(data));
}

size_t ublkpool_capacity(const ublkpool_pool* pool, const void* data) {
  if (!pool) return 0;
  auto index = pool->pool->class_of(data);
  return index ? pool->pool->classes().size(*index) : 0;
}

size_t ublkpool_trim(ublkpool_pool* pool) { return pool ? pool->pool->trim() : 0; }

size_t ublkpool_stats_json(const ublkpool_pool* pool, char* buffer, size_t size) {
  if (!pool) return 0;
  try {
    const std::string json = pool->pool->stats()->to_json();
    if (buffer && size) {
      const std::size_t n = std::min(size - 1, json.size());
      std::memcpy(buffer, json.data(), n);
      buffer[n] = '\0';
    }
    return json.size();
  } catch (...) {
    return 0;
  }
}

int ublkpool_register_pool(ublkpool_pool* pool, const char* name) {
  if (!pool || !name || !*name) return -EINVAL;
  return guarded([&] { return pool::registry().add(name, pool->pool) ? 0 : -EEXIST; });
}

int ublkpool_register_allocator(const char* name, ublkpool_alloc_fn alloc, ublkpool_free_fn free_fn, void* ctx) {
  if (!name || !*name || !alloc || !free_fn) return -EINVAL;
  return guarded([&] {
    auto provider = std::make_shared<pool::CallbackProvider>(name, pool::CallbackAllocator{alloc, free_fn, ctx});
    return pool::registry().add(name, std::move(provider)) ? 0 : -EEXIST;
  });
}

int ublkpool_unregister(const char* name) {
  if (!name) return -EINVAL;
  return guarded([&] { return pool::registry().remove(name) ? 0 : -ENOENT; });
}

int ublkpool_provider_alloc(const char* name, size_t length, size_t alignment, void** out) {
  if (!out) return -EINVAL;
  *out = nullptr;
  return guarded([&] {
    auto provider = find_provider(name);
    if (!provider) return -ENOENT;
    auto buffer = provider->acquire(length, alignment ? alignment : pool::kPageSize);
    if (!buffer) return to_errno(buffer.error());
    try {
      auto& table = outstanding();
      std::lock_guard lock(table.mutex);
      table.buffers.emplace(buffer->data, OutstandingBuffer{*buffer, provider});
    } catch (...) {
      provider->release(*buffer);
      throw;
    }
    *out = buffer->data;
    return 0;
  });
}

int ublkpool_provider_free(const char* name, void* data) {
  return guarded([&] {
    auto provider = find_provider(name);
    if (!provider) return -ENOENT;
    auto& table = outstanding();
    std::unique_lock lock(table.mutex);
    auto it = table.buffers.find(data);
    if (it == table.buffers.end() || it->second.provider != provider) return -EINVAL;
    const OutstandingBuffer entry = std::move(it->second);
    table.buffers.erase(it);
    lock.unlock();
    return to_errno(provider->release(entry.buffer));
  });
}

}  // extern "C"
