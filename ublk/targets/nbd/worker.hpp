#pragma once
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "address.hpp"
#include "connection.hpp"
#include "ring.hpp"

namespace ublk::nbd {

struct Endpoint {
  Address address;
  std::string export_name;
};

// Runs one NBD connection on its own thread and io_uring until the target API lets a target
// queue IO on its ublk queue's ring (then Connection moves there unchanged: it only needs a
// Transport). Requests arrive from the queue's thread through post(); results go back through
// each request's Completion (the queue's cross-thread path).
//
// When the connection breaks, requests held and new ones wait while the worker reconnects
// with backoff; they are resent on the new connection. After `timeout` without one they fail
// with EIO, and so does new IO until a reconnect succeeds. A server whose export changed
// (size, read-only) is not taken back.
class ConnectionWorker final : private Transport {
 public:
  ConnectionWorker(unsigned index, Endpoint endpoint, UniqueFd socket, const Export& shape, unsigned depth,
                   std::chrono::milliseconds timeout, LogSink log);
  ~ConnectionWorker();
  ConnectionWorker(const ConnectionWorker&) = delete;
  ConnectionWorker& operator=(const ConnectionWorker&) = delete;

  // From any thread.
  void post(const Request& request, Completion done) noexcept;
  // From any thread, when the device is being stopped: from now on a connection that is down
  // fails what it holds, and new IO, with EIO at once instead of after `timeout`. Requests on
  // a healthy connection complete as usual.
  void stop_waiting() noexcept;

 private:
  enum class Link : std::uint8_t { kUp, kDown, kFailed };
  using Clock = std::chrono::steady_clock;

  void sendmsg(int fd, msghdr* message) noexcept override;
  void recv(int fd, std::span<std::byte> into) noexcept override;
  void run() noexcept;
  void arm_eventfd() noexcept;
  void take_posted() noexcept;
  void watch_link() noexcept;
  void try_reconnect() noexcept;
  void log(const std::string& line) const;

  unsigned index_;
  Endpoint endpoint_;
  Export shape_;
  std::chrono::milliseconds timeout_;
  LogSink log_;
  std::unique_ptr<Ring> ring_;
  UniqueFd eventfd_;
  std::uint64_t eventfd_value_ = 0;
  Connection connection_;

  std::mutex mutex_;
  std::vector<std::pair<Request, Completion>> posted_;  // guarded by mutex_
  std::atomic<bool> stop_{false};
  std::atomic<bool> no_wait_{false};  // stop_waiting(): the timeout is over

  Link link_ = Link::kUp;
  Clock::time_point down_since_{};
  Clock::time_point next_attempt_{};
  std::chrono::milliseconds backoff_{0};
  std::string last_attempt_error_;
  std::thread thread_;
};

}  // namespace ublk::nbd
