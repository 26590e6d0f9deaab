#pragma once
// The per-device stats socket: a unix stream socket at <dir>/ublkbN.sock. A client connects and
// reads one JSON document (report.hpp's schema, state "live") until the daemon closes the
// connection; it sends nothing. The daemon serves it from its main thread, which only reads the
// counters the queues keep anyway.

#include <functional>
#include <optional>
#include <string>

#include "ublk/unique_fd.hpp"

namespace ublk::cli {

inline constexpr const char* kDefaultStatsDir = "/run/ublk-pool";

// $UBLK_POOL_RUN_DIR when set (tests, unprivileged runs), else kDefaultStatsDir.
std::string stats_dir();
std::string stats_socket_path(const std::string& dir, unsigned device_id);

class StatsServer {
 public:
  // Creates `dir` if need be, replaces a socket left at `path` by a dead daemon, listens.
  // Throws std::system_error naming the path.
  explicit StatsServer(std::string path);
  ~StatsServer();
  StatsServer(const StatsServer&) = delete;
  StatsServer& operator=(const StatsServer&) = delete;

  [[nodiscard]] int fd() const noexcept { return listener_.get(); }
  [[nodiscard]] const std::string& path() const noexcept { return path_; }
  // Answers the clients waiting to be accepted (never blocks: the socket is non-blocking, and a
  // client that does not read is dropped after a short send timeout). Returns how many it served.
  unsigned serve(const std::function<std::string()>& document);

 private:
  std::string path_;
  UniqueFd listener_;
};

// The client side: the document the daemon serving `path` sends, or nullopt with `error` set.
std::optional<std::string> fetch_stats(const std::string& path, std::string& error);

}  // namespace ublk::cli
