#include <cerrno>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string>

#include "pool/shm_client.h"
#include "pool/shm_client.hpp"

struct ublkpool_shm_client {
  explicit ublkpool_shm_client(const char* path, pool::ShmClientConfig config) : client(path, config) {}
  pool::ShmClient client;
};

namespace {

void put_error(char* error, std::size_t size, const std::string& text) noexcept {
  if (!error || size == 0) return;
  const std::size_t n = std::min(text.size(), size - 1);
  std::memcpy(error, text.data(), n);
  error[n] = '\0';
}

int errno_of(const std::system_error& e) noexcept {
  return e.code().category() == std::generic_category() || e.code().category() == std::system_category()
             ? e.code().value()
             : EIO;
}

}  // namespace

extern "C" {

int ublkpool_shm_connect(const char* socket_path, size_t max_buffer_size, ublkpool_shm_client** out, char* error,
                         size_t error_size) {
  if (!socket_path || !out) {
    put_error(error, error_size, "ublkpool_shm_connect: socket_path and out must not be NULL");
    return -EINVAL;
  }
  *out = nullptr;
  pool::ShmClientConfig config;
  if (max_buffer_size) config.max_buffer_size = max_buffer_size;
  try {
    *out = new ublkpool_shm_client(socket_path, config);
    return 0;
  } catch (const std::system_error& e) {
    put_error(error, error_size, e.what());
    return -errno_of(e);
  } catch (const std::invalid_argument& e) {
    put_error(error, error_size, std::string("ublkpool_shm_connect: ") + e.what());
    return -EINVAL;
  } catch (const std::bad_alloc&) {
    put_error(error, error_size, "ublkpool_shm_connect: out of memory");
    return -ENOMEM;
  }
}

int ublkpool_shm_add_arena(ublkpool_shm_client* client, size_t bytes, unsigned flags, size_t* granted, char* error,
                           size_t error_size) {
  if (!client || (flags & ~UBLKPOOL_SHM_READ_ONLY)) {
    put_error(error, error_size, "ublkpool_shm_add_arena: no client, or unknown flags");
    return -EINVAL;
  }
  try {
    const auto& arena = client->client.add_arena(bytes, flags & UBLKPOOL_SHM_READ_ONLY);
    if (granted) *granted = arena.bytes;
    return 0;
  } catch (const std::system_error& e) {
    put_error(error, error_size, e.what());
    return -errno_of(e);
  } catch (const std::exception& e) {
    put_error(error, error_size, e.what());
    return -ENOMEM;
  }
}

size_t ublkpool_shm_arena_count(const ublkpool_shm_client* client) {
  return client ? client->client.arenas().size() : 0;
}

int ublkpool_shm_alloc(ublkpool_shm_client* client, size_t length, void** out) {
  if (!client || !out) return -EINVAL;
  auto buffer = client->client.acquire(length);
  if (!buffer) return -buffer.error().value();
  *out = *buffer;
  return 0;
}

int ublkpool_shm_free(ublkpool_shm_client* client, void* data) {
  if (!client) return -EINVAL;
  const std::error_code error = client->client.release(data);
  return error ? -error.value() : 0;
}

size_t ublkpool_shm_capacity(const ublkpool_shm_client* client, const void* data) {
  return client ? client->client.capacity(data) : 0;
}

void ublkpool_shm_close(ublkpool_shm_client* client) { delete client; }

}  // extern "C"
