#include "providers.hpp"

#include <algorithm>
#include <exception>
#include <filesystem>
#include <system_error>

#include "pool/registry.hpp"
#include "pool/size_class_pool.hpp"

namespace ublk::cli {

namespace {
pool::BackingPolicy backing_of(Hugepages policy) {
  switch (policy) {
    case Hugepages::kHugetlb: return pool::BackingPolicy::hugetlb;
    case Hugepages::kThp: return pool::BackingPolicy::thp;
    case Hugepages::kNone: return pool::BackingPolicy::none;
    case Hugepages::kAuto: break;
  }
  return pool::BackingPolicy::automatic;
}
}  // namespace

KnownProviders known_providers(const DaemonOptions& options) {
  KnownProviders known;
  // A takeover sizes the providers from the device's own max IO, known only once it is
  // inspected: make_provider() registers them then; here only the plugin's path is checked.
  if (options.recover && !options.list_providers) {
    std::error_code ec;
    if (!options.provider_lib.empty() && !std::filesystem::is_regular_file(options.provider_lib, ec)) {
      known.error = "provider plugin '" + options.provider_lib + "': no such file";
    }
    return known;
  }
  if (std::string error = register_adapter_providers(options); !error.empty()) {
    known.error = error;
    return known;
  }
  known.names = pool::registry().names();
  if (std::find(known.names.begin(), known.names.end(), "pool") == known.names.end()) {
    known.names.insert(known.names.begin(), "pool");  // made later, from the flags
  }
  if (!options.list_providers &&
      std::find(known.names.begin(), known.names.end(), options.provider) == known.names.end()) {
    std::string names;
    for (const auto& name : known.names) names += (names.empty() ? "" : ", ") + name;
    known.error = "unknown provider '" + options.provider + "' (known: " + names + ")";
  }
  return known;
}

ProviderChoice make_provider(const DaemonOptions& options) {
  ProviderChoice choice;
  try {
    pool::PoolConfig config;
    config.name = "pool";
    config.max_buffer_size = options.max_io;
    config.byte_limit = options.pool_limit;
    // Buffers idle in one queue's cache are out of reach of the others: under a tight limit
    // the caches keep a small share each, so a waiting queue is never starved by an idle one.
    if (options.pool_limit) {
      config.cache_bytes = std::min<std::size_t>(config.cache_bytes, options.pool_limit / (4 * options.queues));
    }
    config.backing = backing_of(options.hugepages);
    config.steps_per_doubling = options.pool_steps;
    pool::make_default_pool(config);
  } catch (const std::exception& e) {
    choice.error = std::string("cannot create the pool: ") + e.what();
    return choice;
  }
  // known_providers() registered the adapters' providers and --provider-lib's already, but for
  // a takeover.
  if (options.recover) {
    if (std::string error = register_adapter_providers(options); !error.empty()) {
      choice.error = error;
      return choice;
    }
  }
  choice.provider = pool::registry().find(options.provider);
  if (!choice.provider) {
    std::string names;
    for (const auto& name : pool::registry().names()) names += (names.empty() ? "" : ", ") + name;
    choice.error = "unknown provider '" + options.provider + "' (registered: " + names + ")";
    return choice;
  }
  if (choice.provider->max_length() < options.max_io) {
    choice.error = "provider '" + options.provider + "' gives at most " + std::to_string(choice.provider->max_length()) +
                   " bytes, less than --max-io " + std::to_string(options.max_io);
    choice.provider.reset();
  }
  return choice;
}

}  // namespace ublk::cli
