// libublkpool_mimalloc.so: registers "mimalloc".
#include <cerrno>
#include <exception>

#include "adapters/mimalloc_provider.hpp"
#include "adapters/plugin_support.hpp"

extern "C" __attribute__((visibility("default"))) int ublkpool_plugin_register(ublkpool_plugin_host* host) {
  namespace ap = adapters::plugin;
  if (!host || host->abi_version != UBLKPOOL_PLUGIN_ABI_VERSION) return -EINVAL;
  try {
    auto provider = std::make_shared<adapters::MimallocProvider>("mimalloc", ap::config_of(*host));
    if (!ap::add(*host, "mimalloc", std::move(provider))) return -EEXIST;
  } catch (const std::exception& e) {
    ap::set_error(*host, e.what());
    return -ENOMEM;
  }
  return 0;
}
