// libublkpool_jemalloc.so: registers "jemalloc" (a dedicated arena on jemalloc's own extents) and,
// when UBLKPOOL_JEMALLOC_HUGETLB_MB=N is set, "jemalloc_hugetlb" (an arena whose extent hooks carve
// a MAP_HUGETLB region; N MiB of buffers at most). The hugetlb one is opt-in because its region
// takes hugetlb pages away from libpool as soon as it is made.
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "adapters/jemalloc_provider.hpp"
#include "adapters/plugin_support.hpp"

extern "C" __attribute__((visibility("default"))) int ublkpool_plugin_register(ublkpool_plugin_host* host) {
  namespace ap = adapters::plugin;
  if (!host || host->abi_version != UBLKPOOL_PLUGIN_ABI_VERSION) return -EINVAL;
  try {
    auto config = ap::config_of(*host);
    if (!ap::add(*host, "jemalloc", std::make_shared<adapters::JemallocProvider>("jemalloc", config)))
      return -EEXIST;
  } catch (const std::exception& e) {
    ap::set_error(*host, e.what());
    return -ENOMEM;
  }
  if (const char* mb = std::getenv("UBLKPOOL_JEMALLOC_HUGETLB_MB"); mb && std::atoi(mb) > 0) {
    auto config = ap::config_of(*host);
    config.byte_limit = static_cast<std::size_t>(std::atoi(mb)) << 20;
    try {
      auto provider = std::make_shared<adapters::JemallocProvider>(
          "jemalloc_hugetlb", config, adapters::JemallocProvider::Backing::hugetlb);
      if (!ap::add(*host, "jemalloc_hugetlb", std::move(provider))) return -EEXIST;
    } catch (const std::exception& e) {
      // "jemalloc" stays usable without hugetlb pages; say why the other one is missing.
      std::fprintf(stderr, "jemalloc_hugetlb not registered: %s\n", e.what());
    }
  }
  return 0;
}
