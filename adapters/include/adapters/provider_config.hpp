#pragma once
#include <cstddef>
#include <string>

namespace adapters {

// What every adapter provider is built with. The daemons fill it from their flags.
struct ProviderConfig {
  std::size_t max_length = std::size_t{1} << 20;   // the largest acquire(): the daemon's max IO size
  std::size_t byte_limit = std::size_t{256} << 20; // capacity out at once; 0 means no limit
  // Where the jemalloc and mimalloc plugins are looked for. Empty: $UBLKPOOL_PLUGIN_DIR, else
  // <directory of the executable>/../lib/ublkpool (installed), else ../lib (a build tree).
  std::string plugin_dir;
};

// The largest alignment an adapter accepts: a 2 MiB hugepage.
inline constexpr std::size_t kMaxAlignment = std::size_t{2} << 20;

}  // namespace adapters
