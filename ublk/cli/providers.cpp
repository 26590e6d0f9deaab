#include "providers.hpp"

#include <algorithm>
#include <exception>

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
  if (std::string error = register_adapter_providers(options); !error.empty()) {
    choice.error = error;
    return choice;
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
