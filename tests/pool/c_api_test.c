/* The C ABI used from C: compiled as C, called by c_api_test.cpp. Each check returns NULL on
 * success or a message naming what failed. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pool/pool.h"

#define CHECK(cond) \
  do {              \
    if (!(cond)) return #cond; \
  } while (0)

const char* c_api_pool_round_trip(void) {
  ublkpool_config config;
  ublkpool_config_init(&config);
  CHECK(config.max_buffer_size == 1u << 20);
  config.backing = UBLKPOOL_BACKING_NONE;
  config.byte_limit = 4u << 20;
  ublkpool_pool* pool = NULL;
  CHECK(ublkpool_create(&config, &pool) == 0 && pool != NULL);

  void* a = NULL;
  CHECK(ublkpool_alloc(pool, 10000, 0, &a) == 0);
  CHECK(((uintptr_t)a % 4096) == 0);
  CHECK(ublkpool_capacity(pool, a) == 16384);
  memset(a, 0x42, 10000);
  void* aligned = NULL;
  CHECK(ublkpool_alloc(pool, 4096, 65536, &aligned) == 0 && ((uintptr_t)aligned % 65536) == 0);

  void* bad = NULL;
  CHECK(ublkpool_alloc(pool, 0, 0, &bad) == -EINVAL && bad == NULL);
  CHECK(ublkpool_alloc(pool, (1u << 20) + 1, 0, &bad) == -EINVAL);
  CHECK(ublkpool_alloc(pool, 4096, 3, &bad) == -EINVAL);
  int local = 0;
  CHECK(ublkpool_free(pool, &local) == -EINVAL);
  CHECK(ublkpool_capacity(pool, &local) == 0);

  void* big[5];
  int got = 0;
  int rc = 0;
  while (got < 5 && (rc = ublkpool_alloc(pool, 1u << 20, 0, &big[got])) == 0) ++got;
  CHECK(rc == -ENOMEM);  /* 4 MiB limit, 2 MiB already taken by the small classes */
  while (got > 0) CHECK(ublkpool_free(pool, big[--got]) == 0);

  char json[4096];
  size_t n = ublkpool_stats_json(pool, json, sizeof json);
  CHECK(n > 0 && n < sizeof json && strstr(json, "\"acquire_failures\":4") != NULL);

  CHECK(ublkpool_free(pool, a) == 0);
  CHECK(ublkpool_free(pool, a) == -EINVAL); /* double free */
  CHECK(ublkpool_free(pool, aligned) == 0);
  CHECK(ublkpool_trim(pool) > 0);
  ublkpool_destroy(pool);
  CHECK(ublkpool_create(NULL, NULL) == -EINVAL);
  return NULL;
}

struct counting_allocator {
  size_t allocs, frees, bytes_out, last_free_length;
};

static void* counting_alloc(void* ctx, size_t length, size_t alignment) {
  struct counting_allocator* c = ctx;
  void* p = NULL;
  size_t rounded = (length + alignment - 1) / alignment * alignment;
  if (posix_memalign(&p, alignment < sizeof(void*) ? sizeof(void*) : alignment, rounded) != 0) return NULL;
  c->allocs++;
  c->bytes_out += length;
  return p;
}

static void counting_free(void* ctx, void* data, size_t length) {
  struct counting_allocator* c = ctx;
  c->frees++;
  c->bytes_out -= length;
  c->last_free_length = length;
  free(data);
}

const char* c_api_callback_allocator(void) {
  struct counting_allocator counts = {0, 0, 0, 0};
  CHECK(ublkpool_register_allocator("c-test-alloc", counting_alloc, counting_free, &counts) == 0);
  CHECK(ublkpool_register_allocator("c-test-alloc", counting_alloc, counting_free, &counts) == -EEXIST);
  CHECK(ublkpool_register_allocator("x", NULL, counting_free, &counts) == -EINVAL);

  void* p = NULL;
  CHECK(ublkpool_provider_alloc("c-test-alloc", 12345, 8192, &p) == 0);
  CHECK(((uintptr_t)p % 8192) == 0 && counts.allocs == 1 && counts.bytes_out == 12345);
  memset(p, 1, 12345);
  CHECK(ublkpool_provider_free("c-test-alloc", p) == 0);
  CHECK(counts.frees == 1 && counts.last_free_length == 12345 && counts.bytes_out == 0);
  CHECK(ublkpool_provider_free("c-test-alloc", p) == -EINVAL);
  CHECK(ublkpool_provider_alloc("no-such-provider", 4096, 0, &p) == -ENOENT);
  CHECK(ublkpool_unregister("c-test-alloc") == 0);
  CHECK(ublkpool_unregister("c-test-alloc") == -ENOENT);
  return NULL;
}
