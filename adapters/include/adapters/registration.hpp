#pragma once
// How a daemon (or an app) gets the adapters' providers into a pool::Registry.
//
// For the ublk daemons (ublk-pool-null, ublk-pool-mem), in main(), before parsing --provider:
//
//   adapters::ensure_static_tls_for_plugins(argv);      // first line of main: may re-exec once
//   adapters::ProviderConfig cfg{.max_length = max_io_bytes, .byte_limit = limit};
//   auto report = adapters::register_builtin_providers(pool::registry(), cfg);
//   for (auto& why : report.skipped) log(why);           // e.g. a plugin .so not found
//   if (!provider_lib.empty()) {                          // --provider-lib PATH.so
//     auto loaded = adapters::load_provider_plugin(provider_lib, pool::registry(), cfg);
//     if (!loaded) { fprintf(stderr, "%s\n", loaded.message.c_str()); return 2; }
//   }
//   auto found = adapters::find_provider(pool::registry(), provider_name);  // --provider NAME
//   if (!found) { fprintf(stderr, "%s\n", found.message.c_str()); return 2; }
//
// and add adapters::kProviderLibHelp to --help. Link ublkpool::adapters. The jemalloc and
// mimalloc providers are plugins in <build>/lib (see docs/adapters.md for why); a daemon run
// from elsewhere sets UBLKPOOL_PLUGIN_DIR or ProviderConfig::plugin_dir.
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/provider_config.hpp"
#include "pool/registry.hpp"

namespace adapters {

// The --help lines of the two flags.
inline constexpr std::string_view kProviderLibHelp =
    "  --provider-lib PATH.so  load a provider plugin (it exports ublkpool_plugin_register) and\n"
    "                          register its providers, so that --provider can name them";
inline constexpr std::string_view kProviderHelp =
    "  --provider NAME         buffer provider: pool (libpool), pmr, pmr_pool, boost_pool,\n"
    "                          jemalloc, mimalloc, or one a --provider-lib plugin registered";

// The names register_builtin_providers() tries, in order.
[[nodiscard]] std::vector<std::string> builtin_provider_names();

struct RegistrationReport {
  std::vector<std::string> registered;  // names added now
  std::vector<std::string> skipped;     // one line each: the name and why (taken, plugin missing)
};

// Registers pmr (new_delete_resource), pmr_pool (synchronized_pool_resource), boost_pool, and,
// through their plugins in the plugin directory, jemalloc and mimalloc. Never throws for a
// provider that cannot be made: it is reported in `skipped`.
RegistrationReport register_builtin_providers(pool::Registry& registry, const ProviderConfig& config = {});

enum class PluginError { none, not_found, not_loadable, symbol_missing, registration_failed };

struct PluginLoadResult {
  PluginError error = PluginError::none;
  std::string message;                 // one line, names the path, set on failure
  std::vector<std::string> providers;  // names the plugin added
  explicit operator bool() const noexcept { return error == PluginError::none; }
};

// dlopen(path, RTLD_NOW | RTLD_LOCAL), then its ublkpool_plugin_register(host). The plugin stays
// loaded for the life of the process. On failure nothing stays registered.
[[nodiscard]] PluginLoadResult load_provider_plugin(const std::filesystem::path& path,
                                                    pool::Registry& registry,
                                                    const ProviderConfig& config = {});

// The directory register_builtin_providers() loads plugins from, for `config`.
[[nodiscard]] std::filesystem::path plugin_directory(const ProviderConfig& config);

struct ProviderLookup {
  std::shared_ptr<pool::BufferProvider> provider;
  std::string message;  // on failure: "unknown provider 'x' (registered: a, b, c)"
  explicit operator bool() const noexcept { return provider != nullptr; }
};
[[nodiscard]] ProviderLookup find_provider(const pool::Registry& registry, std::string_view name);

// libjemalloc keeps 2.6 KiB of initial-exec TLS, more than glibc leaves spare for dlopen, so
// its plugin loads only if glibc was told to reserve more (GLIBC_TUNABLES
// glibc.rtld.optional_static_tls) before the process started. Call first thing in main():
// when the tunable is not set, it sets it and re-executes /proc/self/exe with the same argv
// (once; if exec fails it returns and the jemalloc plugin will report why it cannot load).
void ensure_static_tls_for_plugins(char** argv) noexcept;
inline constexpr std::string_view kStaticTlsTunable = "glibc.rtld.optional_static_tls=16384";

}  // namespace adapters
