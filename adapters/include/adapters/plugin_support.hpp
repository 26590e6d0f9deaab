#pragma once
// Helpers for a C++ plugin's ublkpool_plugin_register (see adapters/plugin.h).
#include <cstdio>
#include <memory>
#include <string>

#include "adapters/plugin.h"
#include "adapters/provider_config.hpp"
#include "pool/registry.hpp"

namespace adapters::plugin {

[[nodiscard]] inline pool::Registry& registry_of(const ublkpool_plugin_host& host) {
  return *static_cast<pool::Registry*>(host.registry);
}

[[nodiscard]] inline ProviderConfig config_of(const ublkpool_plugin_host& host) {
  ProviderConfig config;
  config.max_length = host.max_length;
  config.byte_limit = host.byte_limit;
  return config;
}

inline void set_error(ublkpool_plugin_host& host, const std::string& reason) {
  if (host.error && host.error_size) std::snprintf(host.error, host.error_size, "%s", reason.c_str());
}

// Adds `provider` as `name`; on a taken name, fills the error and returns false.
inline bool add(ublkpool_plugin_host& host, const std::string& name,
                std::shared_ptr<pool::BufferProvider> provider) {
  if (registry_of(host).add(name, std::move(provider))) return true;
  set_error(host, "provider name '" + name + "' is already registered");
  return false;
}

}  // namespace adapters::plugin
