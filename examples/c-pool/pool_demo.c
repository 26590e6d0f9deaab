/* libpool from C, built with pkg-config against an installed ublkpool (see Makefile):
 * a pool, buffers from it, and this program's own allocator registered as a named provider.
 * Exits 0 when every check holds, 1 with the failed check on stderr otherwise. */
#define _POSIX_C_SOURCE 200112L /* posix_memalign */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pool/pool.h"
#include "pool/version.h"

static int failures;

static void check(int ok, const char* what) {
  if (!ok) {
    fprintf(stderr, "pool_demo: FAILED: %s\n", what);
    failures++;
  }
}

/* The application's allocator: malloc-backed, counting what is out. */
struct counting_allocator {
  size_t outstanding;
  size_t last_length;
};

static void* counting_alloc(void* ctx, size_t length, size_t alignment) {
  struct counting_allocator* a = ctx;
  void* p = NULL;
  if (posix_memalign(&p, alignment < sizeof(void*) ? sizeof(void*) : alignment, length) != 0) return NULL;
  a->outstanding++;
  a->last_length = length;
  return p;
}

static void counting_free(void* ctx, void* data, size_t length) {
  struct counting_allocator* a = ctx;
  a->outstanding--;
  a->last_length = length;
  free(data);
}

static void use_a_pool(void) {
  ublkpool_config config;
  ublkpool_config_init(&config);
  config.backing = UBLKPOOL_BACKING_NONE; /* plain pages: runs anywhere */
  ublkpool_pool* pool = NULL;
  check(ublkpool_create(&config, &pool) == 0 && pool, "ublkpool_create");
  if (!pool) return;

  void* small = NULL;
  void* large = NULL;
  check(ublkpool_alloc(pool, 4096, 0, &small) == 0, "alloc 4 KiB");
  check(ublkpool_alloc(pool, 100000, 65536, &large) == 0, "alloc 100000 B aligned to 64 KiB");
  check(((uintptr_t)large % 65536) == 0, "the 64 KiB alignment");
  check(ublkpool_capacity(pool, large) >= 100000, "the capacity covers the length");
  memset(small, 0xa5, 4096);
  memset(large, 0x5a, 100000);
  void* too_big = NULL;
  check(ublkpool_alloc(pool, config.max_buffer_size + 4096, 0, &too_big) == -EINVAL, "above max_buffer_size: -EINVAL");
  check(ublkpool_free(pool, small) == 0 && ublkpool_free(pool, large) == 0, "free both");
  int stranger = 0;
  check(ublkpool_free(pool, &stranger) == -EINVAL, "a pointer the pool never gave: -EINVAL");

  char json[4096];
  check(ublkpool_stats_json(pool, json, sizeof json) > 0 && strchr(json, '{'), "stats as JSON");
  ublkpool_destroy(pool);
}

static void register_own_allocator(void) {
  struct counting_allocator allocator = {0, 0};
  check(ublkpool_register_allocator("demo_malloc", counting_alloc, counting_free, &allocator) == 0,
        "register the allocator");
  check(ublkpool_register_allocator("demo_malloc", counting_alloc, counting_free, &allocator) == -EEXIST,
        "the same name twice: -EEXIST");

  void* buffer = NULL;
  check(ublkpool_provider_alloc("demo_malloc", 8192, 4096, &buffer) == 0 && buffer, "alloc through the registry");
  check(allocator.outstanding == 1 && allocator.last_length == 8192, "the allocator served it");
  check(ublkpool_provider_free("demo_malloc", buffer) == 0, "free through the registry");
  check(allocator.outstanding == 0 && allocator.last_length == 8192, "the allocator got it back with its length");
  check(ublkpool_provider_alloc("no_such_provider", 4096, 0, &buffer) == -ENOENT, "an unknown name: -ENOENT");
  check(ublkpool_unregister("demo_malloc") == 0, "unregister");
}

int main(void) {
  const char* version = ublkpool_version();
  printf("libublkpool %s (compiled against %s)\n", version, UBLKPOOL_VERSION_STRING);
  check(strcmp(version, UBLKPOOL_VERSION_STRING) == 0, "the library is the version of its headers");
  use_a_pool();
  register_own_allocator();
  if (failures) return 1;
  printf("pool_demo: all checks passed\n");
  return 0;
}
