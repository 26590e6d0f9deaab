#pragma once
#include <cstddef>
#include <span>
#include <system_error>

namespace ublk {

// Where shared memory is registered for UBLK_F_SHMEM_ZC while a device runs (Device; a fake in
// the tests): a client's arena comes and goes.
class SharedMemoryRegistrar {
 public:
  // Registers MAP_SHARED memory the caller keeps mapped until remove_shared_memory() returned
  // success; answers its REG_BUF index. Throws std::exception with a one-line message.
  virtual unsigned add_shared_memory(std::span<std::byte> memory, bool read_only) = 0;
  // Unregisters it; on success no request uses the memory any more and it may be unmapped. An
  // error means it may still be in use: keep it mapped.
  virtual std::error_code remove_shared_memory(unsigned index) noexcept = 0;

 protected:
  ~SharedMemoryRegistrar() = default;
};

}  // namespace ublk
