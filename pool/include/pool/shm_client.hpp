#pragma once
// An application's side of a ublk daemon's shared memory (--shmem): it connects to the daemon's
// socket, receives arenas (memfds the daemon registered with UBLK_F_SHMEM_ZC), maps them and
// allocates its IO buffers from them with libpool's size classes. O_DIRECT IO on the daemon's
// device from these buffers is copied by no one: the daemon serves it in place.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "pool/expected.hpp"
#include "pool/size_classes.hpp"

namespace pool {

struct ShmArenaInfo {
  unsigned index = 0;       // the daemon's REG_BUF index
  std::byte* data = nullptr;
  std::size_t bytes = 0;
  bool hugetlb = false;
  bool read_only = false;   // registered read-only: only WRITEs come from it without a copy
};

struct ShmClientConfig {
  std::size_t max_buffer_size = std::size_t{1} << 20;  // the largest class (multiple of 4 KiB)
  unsigned steps_per_doubling = 1;
};

// Not thread-safe: one thread at a time (the arenas are this process's alone, so no lock is
// shared with the daemon either). Buffers must be released before the client is destroyed.
class ShmClient {
 public:
  // Connects to the daemon's socket and says hello. Throws std::system_error whose message
  // names the socket and, where the daemon refused, its reason.
  explicit ShmClient(const std::string& socket_path, ShmClientConfig config = {});
  ~ShmClient();
  ShmClient(const ShmClient&) = delete;
  ShmClient& operator=(const ShmClient&) = delete;

  // One more arena of at least `bytes` (rounded up to the page size the daemon uses). Throws
  // std::system_error with the daemon's reason.
  const ShmArenaInfo& add_arena(std::size_t bytes, bool read_only = false);
  [[nodiscard]] std::vector<ShmArenaInfo> arenas() const;

  // A page-aligned buffer of at least `length` bytes from the first arena with room:
  // not_enough_memory when none has (add_arena), invalid_argument for 0 or above the largest class.
  [[nodiscard]] Expected<std::byte*> acquire(std::size_t length) noexcept;
  std::error_code release(const void* data) noexcept;
  [[nodiscard]] std::size_t capacity(const void* data) const noexcept;
  [[nodiscard]] std::size_t max_length() const noexcept { return classes_.max_size(); }
  [[nodiscard]] const std::string& socket_path() const noexcept { return path_; }

 private:
  struct Arena;
  std::string path_;
  SizeClasses classes_;
  int socket_ = -1;
  std::vector<std::unique_ptr<Arena>> arenas_;
};

}  // namespace pool
