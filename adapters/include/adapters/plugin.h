/* ublk-pool provider plugins: a plain-C ABI, so that a plugin may be written in C, or built by
 * another compiler or against another C++ standard library than the host.
 *
 * A plugin is a shared object that registers one or more buffer providers under names the daemons
 * accept with --provider NAME. The host opens it with dlopen(RTLD_NOW | RTLD_LOCAL)
 * (adapters::load_provider_plugin), calls ublkpool_plugin_register once, and never unloads it: the
 * providers' code lives in the plugin. Only C types cross the boundary: the plugin fills a
 * struct ublkpool_provider_ops (function pointers and a context) per provider, and the host wraps
 * each one in its own pool::BufferProvider. A C++ plugin wraps its pool::BufferProvider into such
 * a table with adapters/plugin_support.hpp. A plugin that only has an alloc/free pair registers
 * it with host->register_allocator.
 *
 * Export only ublkpool_plugin_register (build with -fvisibility=hidden), and link any allocator
 * that defines malloc into the plugin, never into the host: RTLD_LOCAL keeps its malloc out of
 * the host's symbol lookup.
 *
 * Versioning: UBLKPOOL_PLUGIN_ABI_VERSION changes when a struct below changes incompatibly; a
 * compatible addition appends fields and shows in struct_size. A plugin refuses a host whose
 * abi_version it does not know; the host refuses an ops table whose abi_version it does not know
 * or whose struct_size is smaller than the fields it needs. */
#ifndef UBLKPOOL_ADAPTERS_PLUGIN_H
#define UBLKPOOL_ADAPTERS_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#include "pool/pool.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { UBLKPOOL_PLUGIN_ABI_VERSION = 2 };

/* One buffer as it crosses the boundary. `cookie` is the provider's own word (a size class, a
 * slot, an arena); the host hands it back unchanged with the buffer. */
struct ublkpool_plugin_buffer {
  void* data;
  size_t length;   /* bytes asked for */
  size_t capacity; /* bytes usable, >= length */
  uint64_t cookie;
};

/* One size class of a provider (pool::ClassStats). */
struct ublkpool_plugin_class_stats {
  uint64_t size;   /* capacity of one buffer of this class */
  uint64_t hits;   /* acquisitions served without refilling */
  uint64_t misses; /* acquisitions that had to refill */
  uint64_t in_use; /* buffers out now */
  uint64_t peak;   /* most buffers out at once */
};

/* A provider's counters (pool::ProviderStats). The host lends `classes`, room for
 * `classes_capacity` entries; the plugin writes at most that many and sets `classes_count` to the
 * number it has (the host asks again with more room when that is larger). */
struct ublkpool_plugin_stats {
  uint64_t acquire_failures; /* exhaustion and bad requests */
  uint64_t bytes_in_use;     /* capacity of the buffers out now */
  uint64_t bytes_limit;      /* 0: no limit */
  uint64_t hugetlb_bytes, thp_bytes, small_page_bytes, other_bytes; /* what backs the buffers */
  struct ublkpool_plugin_class_stats* classes;
  size_t classes_capacity;
  size_t classes_count;
};

/* One provider, filled by the plugin. Every function is called with `ctx`, may be called from
 * any thread at once unless said otherwise, and returns 0 or a negative errno: -ENOMEM when the
 * provider is exhausted or at its limit, -EINVAL for a bad request (length 0 or above
 * max_length, an alignment that is not a power of two or is too large, a buffer it does not own). */
struct ublkpool_provider_ops {
  uint32_t abi_version; /* UBLKPOOL_PLUGIN_ABI_VERSION */
  uint32_t struct_size; /* sizeof(struct ublkpool_provider_ops) */
  void* ctx;
  uint64_t max_length; /* the largest length acquire accepts */

  /* Required. A buffer of at least `length` bytes aligned to `alignment`, into *out. */
  int (*acquire)(void* ctx, size_t length, size_t alignment, struct ublkpool_plugin_buffer* out);
  /* Required. Gives back a buffer exactly as acquire (or cache_acquire) filled it. */
  int (*release)(void* ctx, const struct ublkpool_plugin_buffer* buffer);

  /* Optional (NULL: none). Fills *out; 0, or a negative errno when there are no stats. */
  int (*stats)(void* ctx, struct ublkpool_plugin_stats* out);

  /* Optional per-thread caches (one per ublk queue); all four or none. cache_create returns
   * NULL when it cannot make one (the host then uses acquire/release). A cache is used by one
   * thread at a time; cache_release accepts any buffer of this provider. */
  void* (*cache_create)(void* ctx);
  void (*cache_destroy)(void* ctx, void* cache);
  int (*cache_acquire)(void* ctx, void* cache, size_t length, size_t alignment, struct ublkpool_plugin_buffer* out);
  int (*cache_release)(void* ctx, void* cache, const struct ublkpool_plugin_buffer* buffer);

  /* Optional. Called once when the host drops the provider, after every buffer came back. */
  void (*destroy)(void* ctx);
};

struct ublkpool_plugin_host {
  uint32_t abi_version; /* the host's UBLKPOOL_PLUGIN_ABI_VERSION; refuse one you do not know */
  uint32_t struct_size; /* sizeof(struct ublkpool_plugin_host) */
  void* context;        /* the host's; pass it back to the functions below */
  uint64_t max_length;  /* the largest buffer the host will ask any provider for */
  uint64_t byte_limit;  /* bytes out at once per provider; 0 means no limit */
  char* error;          /* on failure, write a one-line reason here (NUL-terminated) */
  size_t error_size;
  /* Adds the provider `ops` describes as `name` (the host copies *ops): 0, -EINVAL (a missing
   * required function, an unknown abi_version), -EEXIST (a taken name), -ENOMEM. On failure the
   * host does not call ops->destroy: the plugin still owns ctx. */
  int (*add_provider)(void* context, const char* name, const struct ublkpool_provider_ops* ops);
  /* Adds an alloc/free pair as provider `name` (libpool's CallbackProvider, see pool/pool.h):
   * 0, -EINVAL, -EEXIST. */
  int (*register_allocator)(void* context, const char* name, ublkpool_alloc_fn alloc,
                            ublkpool_free_fn free_fn, void* ctx);
};

/* Registers the plugin's providers with the host. Returns 0, or a negative errno value with a
 * reason in host->error (the host then removes what this call added). */
int ublkpool_plugin_register(struct ublkpool_plugin_host* host);

typedef int (*ublkpool_plugin_register_fn)(struct ublkpool_plugin_host* host);

#ifdef __cplusplus
}
#endif

#endif
