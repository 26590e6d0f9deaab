/* Zero-copy IO from an application's own buffers: connect to a ublk-pool daemon started with
 * --shmem, take two arenas of shared memory from it, allocate IO buffers from them with libpool's
 * size classes, write them to the device with O_DIRECT and read them back into other buffers.
 * The daemon serves that IO in place in the same pages: neither the kernel nor it copies.
 *
 *   shm_client SOCKET DEVICE [ROUNDS]      (ROUNDS 0: until killed)
 *
 * Exits 0 and prints "PASS" when every byte read back, 1 with the reason otherwise, 2 for a bad
 * command line. */
#define _GNU_SOURCE /* O_DIRECT */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pool/shm_client.h"

enum { kBuffers = 16, kSpacing = 1 << 20 };

/* Sizes across the size classes, up to 256 KiB. */
static size_t block_size(unsigned i) { return (size_t)4096 << (i % 7); }

static void fill(unsigned char* p, size_t n, unsigned seed) {
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    p[i] = (unsigned char)x;
  }
}

static int fail(const char* what, int error) {
  fprintf(stderr, "shm_client: FAILED: %s: %s\n", what, strerror(error));
  return 1;
}

/* One round: write kBuffers blocks from shared buffers, read them into other shared buffers. */
static int round_trip(ublkpool_shm_client* client, int fd, unsigned round) {
  void* out[kBuffers] = {0};
  void* in[kBuffers] = {0};
  int rc = 0;
  for (unsigned i = 0; i < kBuffers && rc == 0; i++) {
    const size_t n = block_size(i);
    int error = ublkpool_shm_alloc(client, n, &out[i]);
    if (error == 0) error = ublkpool_shm_alloc(client, n, &in[i]);
    if (error) {
      rc = fail("ublkpool_shm_alloc", -error);
      break;
    }
    fill(out[i], n, round * kBuffers + i);
    const off_t at = (off_t)i * kSpacing;
    if (pwrite(fd, out[i], n, at) != (ssize_t)n) rc = fail("pwrite", errno);
    else if (pread(fd, in[i], n, at) != (ssize_t)n) rc = fail("pread", errno);
    else if (memcmp(out[i], in[i], n) != 0) rc = fail("the data read back differs", EIO);
  }
  for (unsigned i = 0; i < kBuffers; i++) {
    if (out[i]) ublkpool_shm_free(client, out[i]);
    if (in[i]) ublkpool_shm_free(client, in[i]);
  }
  return rc;
}

int main(int argc, char** argv) {
  if (argc < 3 || argc > 4) {
    fprintf(stderr, "usage: shm_client SOCKET DEVICE [ROUNDS]\n");
    return 2;
  }
  const unsigned long rounds = argc == 4 ? strtoul(argv[3], NULL, 10) : 1;
  char error[256] = "";
  ublkpool_shm_client* client = NULL;
  int rc = ublkpool_shm_connect(argv[1], 0, &client, error, sizeof error);
  if (rc) {
    fprintf(stderr, "shm_client: FAILED: %s\n", error);
    return 1;
  }
  /* Two arenas: the buffers of a round need more than the first one holds. */
  size_t granted[2] = {0, 0};
  for (int a = 0; a < 2 && rc == 0; a++) {
    rc = ublkpool_shm_add_arena(client, 2u << 20, 0, &granted[a], error, sizeof error);
    if (rc) fprintf(stderr, "shm_client: FAILED: %s\n", error);
  }
  const int fd = rc ? -1 : open(argv[2], O_RDWR | O_DIRECT);
  if (rc == 0 && fd < 0) rc = fail(argv[2], errno);
  unsigned long done = 0;
  while (rc == 0 && (rounds == 0 || done < rounds)) {
    rc = round_trip(client, fd, (unsigned)done);
    done++;
  }
  if (rc == 0) {
    printf("shm_client: PASS: %lu round(s) of %d blocks written and read back through %s from %zu arena(s) "
           "(%zu + %zu bytes)\n",
           done, kBuffers, argv[2], ublkpool_shm_arena_count(client), granted[0], granted[1]);
  }
  if (fd >= 0) close(fd);
  ublkpool_shm_close(client);
  return rc ? 1 : 0;
}
