/* ublk-pool provider plugins: the one C function a plugin exports.
 *
 * A plugin is a shared object that registers one or more pool::BufferProvider under names the
 * daemons accept with --provider NAME. The host opens it with dlopen(RTLD_NOW | RTLD_LOCAL)
 * (adapters::load_provider_plugin), calls ublkpool_plugin_register once, and never unloads it:
 * the providers' code lives in the plugin.
 *
 * A C plugin registers an alloc/free pair with host->register_allocator (libpool's
 * CallbackProvider, see pool/pool.h). A C++ plugin casts host->registry to pool::Registry* and
 * calls add(name, provider); adapters/plugin_support.hpp has the helpers. (Not the global
 * ublkpool_register_allocator: a plugin with its own copy of libpool has its own registry.) Export only this symbol (build with
 * -fvisibility=hidden), and link any allocator that defines malloc into the plugin, never into
 * the host: RTLD_LOCAL keeps its malloc out of the host's symbol lookup. */
#ifndef UBLKPOOL_ADAPTERS_PLUGIN_H
#define UBLKPOOL_ADAPTERS_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#include "pool/pool.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { UBLKPOOL_PLUGIN_ABI_VERSION = 1 };

struct ublkpool_plugin_host {
  uint32_t abi_version; /* the host's UBLKPOOL_PLUGIN_ABI_VERSION; refuse one you do not know */
  uint32_t reserved;
  void* registry;       /* a pool::Registry* */
  uint64_t max_length;  /* the largest buffer the host will ask any provider for */
  uint64_t byte_limit;  /* bytes out at once per provider; 0 means no limit */
  char* error;          /* on failure, write a one-line reason here (NUL-terminated) */
  size_t error_size;
  /* Registers an alloc/free pair as provider `name` in host->registry: 0, -EINVAL, -EEXIST. */
  int (*register_allocator)(void* registry, const char* name, ublkpool_alloc_fn alloc,
                            ublkpool_free_fn free_fn, void* ctx);
};

/* Registers the plugin's providers into host->registry. Returns 0, or a negative errno value
 * with a reason in host->error. */
int ublkpool_plugin_register(struct ublkpool_plugin_host* host);

typedef int (*ublkpool_plugin_register_fn)(struct ublkpool_plugin_host* host);

#ifdef __cplusplus
}
#endif

#endif
