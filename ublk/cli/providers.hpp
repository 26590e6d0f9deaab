#pragma once
#include <memory>
#include <string>
#include <vector>

#include "options.hpp"
#include "pool/buffer_provider.hpp"

namespace ublk::cli {

struct ProviderChoice {
  std::shared_ptr<pool::BufferProvider> provider;
  std::string error;  // one line when provider is null
};

struct KnownProviders {
  std::vector<std::string> names;  // "pool", the adapters' and --provider-lib's
  std::string error;               // one line: a plugin that does not load, an unknown --provider
};

// Checks --provider and --provider-lib before anything else runs: loads the plugin, registers
// the adapters' providers and looks the name up, without making the pool. "--provider help"
// (list_providers) is not an error.
KnownProviders known_providers(const DaemonOptions& options);

// Makes libpool's SizeClassPool from the flags and registers it as "pool", registers the
// adapters' providers (and --provider-lib's), then looks up --provider.
ProviderChoice make_provider(const DaemonOptions& options);

// Implemented by adapter_providers.cpp when the adapters library is built, else by
// no_adapter_providers.cpp. Returns an error line, or empty.
std::string register_adapter_providers(const DaemonOptions& options);
// Must run first thing in main() (the adapters may re-exec once for their plugins' TLS).
void prepare_adapter_plugins(char** argv) noexcept;

}  // namespace ublk::cli
