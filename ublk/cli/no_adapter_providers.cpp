// Built when the adapters library is not: only libpool's "pool" exists.
#include "providers.hpp"

namespace ublk::cli {

std::string register_adapter_providers(const DaemonOptions& options) {
  if (!options.provider_lib.empty()) {
    return "--provider-lib needs the adapters library, which this build lacks";
  }
  return {};
}

void prepare_adapter_plugins(char**) noexcept {}

}  // namespace ublk::cli
