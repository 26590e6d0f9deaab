#pragma once
// A C++ plugin's side of the plain-C plugin ABI (adapters/plugin.h): add(host, name, provider)
// wraps a pool::BufferProvider into a ublkpool_provider_ops table. Header-only on purpose: it is
// compiled into the plugin, so no C++ object of the plugin's crosses to the host or back.
#include <cerrno>
#include <cstdio>
#include <memory>
#include <string>
#include <system_error>

#include "adapters/plugin.h"
#include "adapters/provider_config.hpp"
#include "pool/buffer_provider.hpp"

namespace adapters::plugin {

[[nodiscard]] inline ProviderConfig config_of(const ublkpool_plugin_host& host) {
  ProviderConfig config;
  config.max_length = host.max_length;
  config.byte_limit = host.byte_limit;
  return config;
}

inline void set_error(ublkpool_plugin_host& host, const std::string& reason) {
  if (host.error && host.error_size) std::snprintf(host.error, host.error_size, "%s", reason.c_str());
}

namespace detail {

struct Exported {
  std::shared_ptr<pool::BufferProvider> provider;
};

inline pool::BufferProvider& provider_of(void* ctx) noexcept { return *static_cast<Exported*>(ctx)->provider; }

[[nodiscard]] inline int to_errno(std::error_code error) noexcept {
  if (!error) return 0;
  return error.category() == std::generic_category() ? -error.value() : -EIO;
}

[[nodiscard]] inline pool::Buffer to_buffer(pool::BufferProvider& owner, const ublkpool_plugin_buffer& b) noexcept {
  return pool::Buffer{static_cast<std::byte*>(b.data), b.length, b.capacity, &owner,
                      static_cast<std::uintptr_t>(b.cookie)};
}

[[nodiscard]] inline int fill(const pool::Expected<pool::Buffer>& buffer, ublkpool_plugin_buffer* out) noexcept {
  if (!buffer) return to_errno(buffer.error());
  *out = {buffer->data, buffer->length, buffer->capacity, buffer->cookie};
  return 0;
}

inline int acquire(void* ctx, size_t length, size_t alignment, ublkpool_plugin_buffer* out) noexcept {
  return fill(provider_of(ctx).acquire(length, alignment), out);
}

inline int release(void* ctx, const ublkpool_plugin_buffer* buffer) noexcept {
  auto& provider = provider_of(ctx);
  return to_errno(provider.release(to_buffer(provider, *buffer)));
}

inline int stats(void* ctx, ublkpool_plugin_stats* out) noexcept {
  try {
    const auto s = provider_of(ctx).stats();
    if (!s) return -ENODATA;
    out->acquire_failures = s->acquire_failures;
    out->bytes_in_use = s->bytes_in_use;
    out->bytes_limit = s->bytes_limit;
    out->hugetlb_bytes = s->backing.hugetlb_bytes;
    out->thp_bytes = s->backing.thp_bytes;
    out->small_page_bytes = s->backing.small_page_bytes;
    out->other_bytes = s->backing.other_bytes;
    out->classes_count = s->classes.size();
    for (std::size_t i = 0; i < s->classes.size() && i < out->classes_capacity; ++i) {
      const auto& c = s->classes[i];
      out->classes[i] = {c.size, c.hits, c.misses, c.in_use, c.peak};
    }
    return 0;
  } catch (...) {
    return -ENOMEM;
  }
}

inline void* cache_create(void* ctx) noexcept {
  try {
    return provider_of(ctx).make_cache().release();
  } catch (...) {
    return nullptr;
  }
}

inline void cache_destroy(void*, void* cache) noexcept { delete static_cast<pool::BufferCache*>(cache); }

inline int cache_acquire(void*, void* cache, size_t length, size_t alignment, ublkpool_plugin_buffer* out) noexcept {
  return fill(static_cast<pool::BufferCache*>(cache)->acquire(length, alignment), out);
}

inline int cache_release(void*, void* cache, const ublkpool_plugin_buffer* buffer) noexcept {
  auto* c = static_cast<pool::BufferCache*>(cache);
  return to_errno(c->release(to_buffer(c->provider(), *buffer)));
}

inline void destroy(void* ctx) noexcept { delete static_cast<Exported*>(ctx); }

}  // namespace detail

// Adds `provider` to the host as `name`; on failure, fills the error and returns false.
inline bool add(ublkpool_plugin_host& host, const std::string& name, std::shared_ptr<pool::BufferProvider> provider) {
  if (!host.add_provider) {
    set_error(host, "the host has no add_provider");
    return false;
  }
  ublkpool_provider_ops ops{};
  ops.abi_version = UBLKPOOL_PLUGIN_ABI_VERSION;
  ops.struct_size = sizeof ops;
  ops.max_length = provider->max_length();
  ops.ctx = new detail::Exported{std::move(provider)};
  ops.acquire = detail::acquire;
  ops.release = detail::release;
  ops.stats = detail::stats;
  ops.cache_create = detail::cache_create;
  ops.cache_destroy = detail::cache_destroy;
  ops.cache_acquire = detail::cache_acquire;
  ops.cache_release = detail::cache_release;
  ops.destroy = detail::destroy;
  const int rc = host.add_provider(host.context, name.c_str(), &ops);
  if (rc == 0) return true;
  detail::destroy(ops.ctx);  // refused: the provider is still ours
  set_error(host, rc == -EEXIST ? "provider name '" + name + "' is already registered"
                                : "provider '" + name + "': the host refused it (" + std::to_string(-rc) + ")");
  return false;
}

}  // namespace adapters::plugin
