#include <dlfcn.h>

#include <algorithm>
#include <cerrno>
#include <array>
#include <cstring>
#include <system_error>

#include "adapters/plugin.h"
#include "pool/callback_provider.hpp"
#include "adapters/registration.hpp"
#include "plugin_provider.hpp"

namespace adapters {

namespace {
PluginLoadResult failure(PluginError error, std::string message) {
  PluginLoadResult r;
  r.error = error;
  r.message = std::move(message);
  return r;
}

std::string dl_error() {
  const char* e = dlerror();
  return e ? e : "unknown dlopen error";
}

std::string static_tls_hint(const std::string& error) {
  if (error.find("static TLS") == std::string::npos) return {};
  return " (its allocator needs static TLS: start the process with GLIBC_TUNABLES=" +
         std::string(kStaticTlsTunable) + ", or call adapters::ensure_static_tls_for_plugins)";
}

// host->register_allocator: a C plugin's way to add an alloc/free pair (libpool's CallbackProvider).
int register_allocator(void* registry, const char* name, ublkpool_alloc_fn alloc, ublkpool_free_fn free_fn,
                       void* ctx) {
  if (!registry || !name || !*name || !alloc || !free_fn) return -EINVAL;
  try {
    auto provider = std::make_shared<pool::CallbackProvider>(name, pool::CallbackAllocator{alloc, free_fn, ctx});
    return static_cast<pool::Registry*>(registry)->add(name, std::move(provider)) ? 0 : -EEXIST;
  } catch (const std::invalid_argument&) {
    return -EINVAL;
  } catch (...) {
    return -ENOMEM;
  }
}

// host->add_provider: a provider table, wrapped into a pool::BufferProvider.
int add_provider(void* registry, const char* name, const ublkpool_provider_ops* ops) {
  if (!registry || !name || !*name) return -EINVAL;
  if (const int rc = valid_ops(ops); rc != 0) return rc;
  std::shared_ptr<PluginProvider> provider;
  try {
    provider = std::make_shared<PluginProvider>(name, *ops);
    if (static_cast<pool::Registry*>(registry)->add(name, provider)) return 0;
  } catch (...) {
    if (provider) provider->disown();  // refused: ops->ctx stays the plugin's
    return -ENOMEM;
  }
  provider->disown();
  return -EEXIST;
}

std::vector<std::string> added_names(const std::vector<std::string>& before, const std::vector<std::string>& after) {
  std::vector<std::string> added;
  for (const auto& name : after)
    if (std::find(before.begin(), before.end(), name) == before.end()) added.push_back(name);
  return added;
}
}  // namespace

PluginLoadResult load_provider_plugin(const std::filesystem::path& path, pool::Registry& registry,
                                      const ProviderConfig& config) {
  const std::string shown = path.string();
  std::error_code ec;
  if (path.empty() || !std::filesystem::is_regular_file(path, ec))
    return failure(PluginError::not_found, "provider plugin '" + shown + "': no such file");

  // RTLD_LOCAL: an allocator the plugin links (its malloc, free, ...) stays out of the process's
  // global symbol lookup. Not RTLD_DEEPBIND: ASan does not support it, and it is not needed.
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const auto why = dl_error();
    return failure(PluginError::not_loadable,
                   "provider plugin '" + shown + "': cannot load: " + why + static_tls_hint(why));
  }
  dlerror();
  auto* register_fn = reinterpret_cast<ublkpool_plugin_register_fn>(dlsym(handle, "ublkpool_plugin_register"));
  if (!register_fn) {
    dlclose(handle);
    return failure(PluginError::symbol_missing,
                   "provider plugin '" + shown + "': it does not export ublkpool_plugin_register");
  }

  std::array<char, 512> reason{};
  ublkpool_plugin_host host{};
  host.abi_version = UBLKPOOL_PLUGIN_ABI_VERSION;
  host.struct_size = sizeof host;
  host.context = &registry;
  host.max_length = config.max_length;
  host.byte_limit = config.byte_limit;
  host.error = reason.data();
  host.error_size = reason.size();
  host.add_provider = add_provider;
  host.register_allocator = register_allocator;

  const auto before = registry.names();
  const int rc = register_fn(&host);
  auto added = added_names(before, registry.names());
  // The plugin stays loaded from here on: providers it made may still be referenced.
  if (rc != 0) {
    for (const auto& name : added) registry.remove(name);
    std::string why = reason[0] ? std::string(reason.data()) : std::strerror(rc < 0 ? -rc : rc);
    return failure(PluginError::registration_failed,
                   "provider plugin '" + shown + "': registration failed: " + why);
  }
  PluginLoadResult ok;
  ok.providers = std::move(added);
  return ok;
}

}  // namespace adapters
