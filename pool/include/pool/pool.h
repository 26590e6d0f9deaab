/* libpool's C ABI: a size-class buffer pool for C applications, and a way to plug a C allocator
 * into the process-wide provider registry (the one the ublk daemons pick providers from).
 * Every int-returning call gives 0 or a negative errno: -EINVAL for bad input, -ENOMEM when
 * the pool is at its byte limit or out of memory, -EEXIST for a name already registered. */
#ifndef UBLKPOOL_POOL_H
#define UBLKPOOL_POOL_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ublkpool_pool ublkpool_pool;

/* The library's version, "MAJOR.MINOR.PATCH": the one it was built as, which may differ from
 * the UBLKPOOL_VERSION_STRING of the pool/version.h a program was compiled with. */
const char* ublkpool_version(void);

enum ublkpool_backing {
  UBLKPOOL_BACKING_AUTO = 0, /* hugetlb, else transparent hugepages, else 4 KiB pages */
  UBLKPOOL_BACKING_HUGETLB = 1,
  UBLKPOOL_BACKING_THP = 2,
  UBLKPOOL_BACKING_NONE = 3 /* 4 KiB pages */
};

typedef struct ublkpool_config {
  size_t max_buffer_size;      /* multiple of 4096, at most 32 MiB; default 1 MiB */
  unsigned steps_per_doubling; /* 1: power-of-two classes; up to 8 */
  size_t byte_limit;           /* most bytes mapped; 0: no limit */
  int backing;                 /* enum ublkpool_backing */
  int hugetlb_1g;              /* non-zero: try 1 GiB pages first */
} ublkpool_config;

/* Fills *config with the defaults. */
void ublkpool_config_init(ublkpool_config* config);

/* Creates a pool (config may be NULL for the defaults) into *out. */
int ublkpool_create(const ublkpool_config* config, ublkpool_pool** out);
/* Destroys a pool. Every buffer must have been freed; NULL is ignored. */
void ublkpool_destroy(ublkpool_pool* pool);

/* A buffer of at least `length` bytes aligned to `alignment` (0 means 4096) into *out. */
int ublkpool_alloc(ublkpool_pool* pool, size_t length, size_t alignment, void** out);
/* Gives a buffer back; the pool finds its size. -EINVAL for a pointer it did not give out. */
int ublkpool_free(ublkpool_pool* pool, void* data);
/* The usable bytes of a buffer of this pool (its class size), or 0 for any other pointer. */
size_t ublkpool_capacity(const ublkpool_pool* pool, const void* data);
/* Returns idle memory to the OS; the number of bytes unmapped. */
size_t ublkpool_trim(ublkpool_pool* pool);
/* Writes the stats as JSON (NUL-terminated, truncated to `size`); returns the full length. */
size_t ublkpool_stats_json(const ublkpool_pool* pool, char* buffer, size_t size);

/* Makes the pool a named provider in the registry (it stays valid after ublkpool_destroy). */
int ublkpool_register_pool(ublkpool_pool* pool, const char* name);

/* An allocator pair with a context. alloc returns NULL when it cannot serve; free receives the
 * exact length that was passed to alloc. */
typedef void* (*ublkpool_alloc_fn)(void* ctx, size_t length, size_t alignment);
typedef void (*ublkpool_free_fn)(void* ctx, void* data, size_t length);

/* Registers the pair as the provider `name`. */
int ublkpool_register_allocator(const char* name, ublkpool_alloc_fn alloc, ublkpool_free_fn free_fn,
                                void* ctx);
/* Removes a provider from the registry. The provider lives on while buffers from
 * ublkpool_provider_alloc are out: they keep it, and ublkpool_provider_free finds it only by a
 * registered name, so free them before unregistering (or register it again to free them). */
int ublkpool_unregister(const char* name);

/* Allocates from a registered provider by name; free it with the same name. Works for every
 * provider, since the address is remembered here. -ENOENT: no provider of that name. NULL names
 * the registry's default provider: the one set as default, else the one named "pool"; until one of
 * those is registered (nothing is registered at start), NULL gives -ENOENT too. */
int ublkpool_provider_alloc(const char* name, size_t length, size_t alignment, void** out);
int ublkpool_provider_free(const char* name, void* data);

#ifdef __cplusplus
}
#endif

#endif /* UBLKPOOL_POOL_H */
