#pragma once
// The daemon's shared-memory socket (--shmem): applications connect, speak pool/shm_protocol.hpp
// and receive arenas that the device registered for UBLK_F_SHMEM_ZC. A client's arenas are
// unregistered and unmapped when it goes (a close or a crash), once the IO in flight on them has
// ended (SharedMemoryRegistrar::remove_shared_memory). Served from the daemon's main thread.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pool/shm_protocol.hpp"
#include "shmem_arena.hpp"
#include "ublk/shared_memory_registrar.hpp"
#include "ublk/unique_fd.hpp"

namespace ublk::cli {

// The default socket of device N: <dir>/ublkbN.shmem.sock; its state file <dir>/ublkbN.shmem.
std::string shmem_socket_path(const std::string& dir, unsigned device_id);
std::string shmem_state_path(const std::string& dir, unsigned device_id);

struct ShmemServerCounts {
  unsigned clients = 0;
  unsigned arenas = 0;  // live now
  std::uint64_t arena_bytes = 0;
  std::uint64_t arenas_given = 0;
  std::uint64_t arenas_reclaimed = 0;
};

class ShmemServer {
 public:
  // Listens on `socket_path` (its directory made if need be, a dead daemon's socket replaced).
  // `state_path`, if not empty, is rewritten with the counts (JSON) whenever they change, for
  // `ublk-pool list`. Throws std::system_error naming the path.
  // `notice` gets a line for each client that comes, each arena given or refused, and each client
  // that goes (the daemon's log); none: ublk::log at info level.
  using Notice = std::function<void(const std::string& line)>;
  ShmemServer(std::string socket_path, SharedMemoryRegistrar& registrar, std::string state_path = {},
              Notice notice = {});
  ~ShmemServer();  // takes every arena back
  ShmemServer(const ShmemServer&) = delete;
  ShmemServer& operator=(const ShmemServer&) = delete;

  // Readable when a client connects or speaks: poll it, then serve().
  [[nodiscard]] int fd() const noexcept { return epoll_.get(); }
  [[nodiscard]] const std::string& path() const noexcept { return path_; }
  // Handles what is waiting, without blocking (a departing client's arenas are reclaimed here,
  // which waits for their IO in flight).
  void serve();
  [[nodiscard]] ShmemServerCounts counts() const noexcept { return counts_; }

 private:
  struct Arena {
    SharedArena memory;
    unsigned index = 0;
  };
  struct Client {
    UniqueFd socket;
    bool greeted = false;
    std::vector<Arena> arenas;
  };

  void accept_clients();
  // false: the client is to be dropped.
  bool on_message(Client& client);
  bool on_arena_request(Client& client, const pool::shm::Message& request);
  void drop(int fd);
  void reclaim(Arena& arena);
  void write_state() const;
  void tell(const std::string& line) const;

  std::string path_;
  std::string state_path_;
  SharedMemoryRegistrar& registrar_;
  Notice notice_;
  UniqueFd listener_;
  UniqueFd epoll_;
  std::map<int, std::unique_ptr<Client>> clients_;
  std::vector<Arena> kept_;  // arenas whose IO did not end in time: mapped until we exit
  ShmemServerCounts counts_;
};

// What a state file says, for `ublk-pool list`; nullopt if there is none.
struct ShmemState {
  std::string socket;
  ShmemServerCounts counts;
};
std::optional<ShmemState> read_shmem_state(const std::string& state_path);

}  // namespace ublk::cli
