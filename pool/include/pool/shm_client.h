/* libpool's C ABI for a ublk daemon's shared memory (a daemon started with --shmem): connect to
 * its socket, receive arenas the daemon registered with UBLK_F_SHMEM_ZC, and allocate IO buffers
 * from them. O_DIRECT IO on the daemon's /dev/ublkbN from these buffers is copied by no one.
 * Every int-returning call gives 0 or a negative errno; where a char buffer `error` of
 * `error_size` bytes is passed (it may be NULL), a failure also leaves a one-line reason there.
 * A client is used by one thread at a time. */
#ifndef UBLKPOOL_SHM_CLIENT_H
#define UBLKPOOL_SHM_CLIENT_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ublkpool_shm_client ublkpool_shm_client;

/* Arena flags. */
#define UBLKPOOL_SHM_READ_ONLY 1u /* registered read-only: only WRITEs to the device avoid the copy */

/* Connects to the daemon's socket (its log and `ublk-pool list` show the path) into *out.
 * max_buffer_size: the largest buffer (a multiple of 4096; 0 means 1 MiB). */
int ublkpool_shm_connect(const char* socket_path, size_t max_buffer_size, ublkpool_shm_client** out, char* error,
                         size_t error_size);
/* Asks for one more arena of at least `bytes` (at most 1 GiB); its size into *granted (may be NULL). */
int ublkpool_shm_add_arena(ublkpool_shm_client* client, size_t bytes, unsigned flags, size_t* granted, char* error,
                           size_t error_size);
/* How many arenas the client has. */
size_t ublkpool_shm_arena_count(const ublkpool_shm_client* client);

/* A page-aligned buffer of at least `length` bytes into *out: -ENOMEM when no arena has room,
 * -EINVAL for 0 or more than max_buffer_size. */
int ublkpool_shm_alloc(ublkpool_shm_client* client, size_t length, void** out);
/* Gives a buffer back; -EINVAL for a pointer the client did not give out. */
int ublkpool_shm_free(ublkpool_shm_client* client, void* data);
/* The usable bytes of a buffer handed out now, or 0. */
size_t ublkpool_shm_capacity(const ublkpool_shm_client* client, const void* data);

/* Closes the connection and unmaps the arenas (free every buffer first); the daemon takes the
 * arenas back once the IO in flight on them has ended. NULL is ignored. */
void ublkpool_shm_close(ublkpool_shm_client* client);

#ifdef __cplusplus
}
#endif

#endif /* UBLKPOOL_SHM_CLIENT_H */
