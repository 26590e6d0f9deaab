// Built when the adapters library is: pmr, boost_pool, jemalloc, mimalloc and plugins.
#include <cstdio>

#include "adapters/registration.hpp"
#include "providers.hpp"

namespace ublk::cli {

std::string register_adapter_providers(const DaemonOptions& options) {
  adapters::ProviderConfig config;
  config.max_length = options.max_io;
  if (options.pool_limit) config.byte_limit = options.pool_limit;
  const auto report = adapters::register_builtin_providers(pool::registry(), config);
  if (options.provider != "pool") {
    for (const auto& why : report.skipped) std::fprintf(stderr, "provider skipped: %s\n", why.c_str());
  }
  if (!options.provider_lib.empty()) {
    auto loaded = adapters::load_provider_plugin(options.provider_lib, pool::registry(), config);
    if (!loaded) return loaded.message;
  }
  return {};
}

void prepare_adapter_plugins(char** argv) noexcept { adapters::ensure_static_tls_for_plugins(argv); }

}  // namespace ublk::cli
