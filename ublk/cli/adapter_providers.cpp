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
  // Say why a provider is missing only when it is the one asked for: a bad --provider is one
  // line, and the lookup's message lists what exists.
  for (const auto& why : report.skipped) {
    if (why.find(options.provider) != std::string::npos && options.provider != "pool") {
      std::fprintf(stderr, "provider %s: %s\n", options.provider.c_str(), why.c_str());
    }
  }
  if (!options.provider_lib.empty()) {
    auto loaded = adapters::load_provider_plugin(options.provider_lib, pool::registry(), config);
    if (!loaded) return loaded.message;
  }
  return {};
}

void prepare_adapter_plugins(char** argv) noexcept { adapters::ensure_static_tls_for_plugins(argv); }

}  // namespace ublk::cli
