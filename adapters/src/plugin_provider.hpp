#pragma once
// The host's side of the plain-C plugin ABI (adapters/plugin.h): a plugin's provider table as a
// pool::BufferProvider. Private to libublkpool-adapters; plugin_loader.cpp makes them.
#include <string>

#include "adapters/plugin.h"
#include "pool/buffer_provider.hpp"

namespace adapters {

class PluginProvider final : public pool::BufferProvider {
 public:
  // `ops` was checked by valid_ops(). The provider owns ops.ctx (calls ops.destroy) unless disown()ed.
  PluginProvider(std::string name, const ublkpool_provider_ops& ops);
  ~PluginProvider() override;
  PluginProvider(const PluginProvider&) = delete;
  PluginProvider& operator=(const PluginProvider&) = delete;

  [[nodiscard]] std::string_view name() const noexcept override { return name_; }
  [[nodiscard]] pool::Expected<pool::Buffer> acquire(std::size_t length,
                                                     std::size_t alignment = pool::kPageSize) noexcept override;
  std::error_code release(const pool::Buffer& buffer) noexcept override;
  [[nodiscard]] std::size_t max_length() const noexcept override { return static_cast<std::size_t>(ops_.max_length); }
  [[nodiscard]] std::optional<pool::ProviderStats> stats() const override;
  [[nodiscard]] std::unique_ptr<pool::BufferCache> make_cache() override;

  // The host refused the provider after making it: ops.ctx stays the plugin's.
  void disown() noexcept { owned_ = false; }

  [[nodiscard]] const ublkpool_provider_ops& ops() const noexcept { return ops_; }

 private:
  std::string name_;
  ublkpool_provider_ops ops_;
  bool owned_ = true;
};

// 0, or -EINVAL for a table this host cannot use (unknown abi_version, too small, a required
// function missing, the cache functions neither all nor none).
[[nodiscard]] int valid_ops(const ublkpool_provider_ops* ops) noexcept;

}  // namespace adapters
