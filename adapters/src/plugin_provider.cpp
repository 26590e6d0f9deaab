#include "plugin_provider.hpp"

#include <cerrno>
#include <cstddef>
#include <vector>

namespace adapters {

namespace {
std::error_code from_errno(int rc) noexcept {
  return rc < 0 ? std::error_code(-rc, std::generic_category()) : std::make_error_code(std::errc::io_error);
}

// What came back from a plugin's acquire, checked before it becomes a pool::Buffer.
pool::Expected<pool::Buffer> to_buffer(int rc, const ublkpool_plugin_buffer& out, std::size_t length,
                                       pool::BufferProvider* owner) noexcept {
  if (rc != 0) return from_errno(rc);
  if (!out.data || out.length != length || out.capacity < length) return std::errc::io_error;
  return pool::Buffer{static_cast<std::byte*>(out.data), out.length, out.capacity, owner,
                      static_cast<std::uintptr_t>(out.cookie)};
}

ublkpool_plugin_buffer to_plugin(const pool::Buffer& b) noexcept { return {b.data, b.length, b.capacity, b.cookie}; }

class PluginCache final : public pool::BufferCache {
 public:
  PluginCache(PluginProvider& provider, void* cache) : provider_(provider), cache_(cache) {}
  ~PluginCache() override { provider_.ops().cache_destroy(provider_.ops().ctx, cache_); }
  PluginCache(const PluginCache&) = delete;
  PluginCache& operator=(const PluginCache&) = delete;

  pool::Expected<pool::Buffer> acquire(std::size_t length, std::size_t alignment) noexcept override {
    ublkpool_plugin_buffer out{};
    const int rc = provider_.ops().cache_acquire(provider_.ops().ctx, cache_, length, alignment, &out);
    return to_buffer(rc, out, length, &provider_);
  }
  std::error_code release(const pool::Buffer& buffer) noexcept override {
    if (buffer.owner != &provider_) return std::make_error_code(std::errc::invalid_argument);
    const auto b = to_plugin(buffer);
    const int rc = provider_.ops().cache_release(provider_.ops().ctx, cache_, &b);
    return rc == 0 ? std::error_code{} : from_errno(rc);
  }
  pool::BufferProvider& provider() noexcept override { return provider_; }

 private:
  PluginProvider& provider_;
  void* cache_;
};
}  // namespace

int valid_ops(const ublkpool_provider_ops* ops) noexcept {
  if (!ops || ops->abi_version != UBLKPOOL_PLUGIN_ABI_VERSION || ops->struct_size < sizeof(ublkpool_provider_ops))
    return -EINVAL;
  if (!ops->acquire || !ops->release || ops->max_length == 0) return -EINVAL;
  const int cache_functions = (ops->cache_create != nullptr) + (ops->cache_destroy != nullptr) +
                              (ops->cache_acquire != nullptr) + (ops->cache_release != nullptr);
  return cache_functions == 0 || cache_functions == 4 ? 0 : -EINVAL;
}

PluginProvider::PluginProvider(std::string name, const ublkpool_provider_ops& ops)
    : name_(std::move(name)), ops_(ops) {}

PluginProvider::~PluginProvider() {
  if (owned_ && ops_.destroy) ops_.destroy(ops_.ctx);
}

pool::Expected<pool::Buffer> PluginProvider::acquire(std::size_t length, std::size_t alignment) noexcept {
  ublkpool_plugin_buffer out{};
  const int rc = ops_.acquire(ops_.ctx, length, alignment, &out);
  return to_buffer(rc, out, length, this);
}

std::error_code PluginProvider::release(const pool::Buffer& buffer) noexcept {
  if (buffer.owner != this) return std::make_error_code(std::errc::invalid_argument);
  const auto b = to_plugin(buffer);
  const int rc = ops_.release(ops_.ctx, &b);
  return rc == 0 ? std::error_code{} : from_errno(rc);
}

std::optional<pool::ProviderStats> PluginProvider::stats() const {
  if (!ops_.stats) return std::nullopt;
  std::vector<ublkpool_plugin_class_stats> classes(64);
  ublkpool_plugin_stats s{};
  for (;;) {
    s = {};
    s.classes = classes.data();
    s.classes_capacity = classes.size();
    if (ops_.stats(ops_.ctx, &s) != 0) return std::nullopt;
    if (s.classes_count <= classes.size()) break;
    classes.resize(s.classes_count);  // the plugin has more classes than there was room for
  }
  pool::ProviderStats out;
  out.provider = name_;
  for (std::size_t i = 0; i < s.classes_count; ++i) {
    const auto& c = classes[i];
    out.classes.push_back({static_cast<std::size_t>(c.size), c.hits, c.misses, c.in_use, c.peak});
  }
  out.backing = {s.hugetlb_bytes, s.thp_bytes, s.small_page_bytes, s.other_bytes};
  out.acquire_failures = s.acquire_failures;
  out.bytes_in_use = s.bytes_in_use;
  out.bytes_limit = s.bytes_limit;
  return out;
}

std::unique_ptr<pool::BufferCache> PluginProvider::make_cache() {
  if (!ops_.cache_create) return BufferProvider::make_cache();
  void* cache = ops_.cache_create(ops_.ctx);
  if (!cache) return BufferProvider::make_cache();
  try {
    return std::make_unique<PluginCache>(*this, cache);
  } catch (...) {
    ops_.cache_destroy(ops_.ctx, cache);
    throw;
  }
}

}  // namespace adapters
