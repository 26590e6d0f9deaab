#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "address.hpp"
#include "connection.hpp"
#include "reconnect_attempt.hpp"

namespace ublk::nbd {

struct Endpoint {
  Address address;
  std::string export_name;
};

// One queue's NBD connection, driven from that queue's thread and io_uring: the socket's send
// and receive, the reconnect timer and the stop wake-up are the target's own IO on the queue's
// ring (QueueContext::submit_own), and requests complete on the queue's thread.
//
// When the connection breaks, requests held and new ones wait while it reconnects with backoff;
// they are resent on the new connection. After `timeout` without one they fail with EIO, and so
// does new IO until a reconnect succeeds. A server whose export changed (size, read-only) is not
// taken back. A reconnect attempt is IO on the ring too (ReconnectAttempt), so the queue's thread
// goes on serving its events while the server is slow to answer; each step of it (connect, each
// handshake send or receive) ends after at most kStepLimit.
class RingConnection final : private Transport {
 public:
  static constexpr std::chrono::milliseconds kStepLimit{1000};
  static constexpr std::chrono::milliseconds kFirstBackoff{100};
  static constexpr std::chrono::milliseconds kMaxBackoff{2000};

  // `socket`: negotiated; it is used from start() on. Setup: throws std::system_error, or
  // std::runtime_error when the address no longer resolves (reconnects reuse this lookup).
  // zero_copy_min: WRITE batches of at least this many payload bytes go as zero-copy sends;
  // nullopt: never.
  RingConnection(unsigned index, Endpoint endpoint, UniqueFd socket, const Export& shape, unsigned depth,
                 std::chrono::milliseconds timeout, LogSink log,
                 std::optional<std::uint64_t> zero_copy_min = std::nullopt);
  RingConnection(const RingConnection&) = delete;
  RingConnection& operator=(const RingConnection&) = delete;

  // On the queue's thread: Target::on_queue_start, handle, on_io_complete (QueueContext::kOwnIo),
  // on_queue_stop.
  void start(QueueContext& queue) noexcept;
  void submit(const Request& request, Completion done) noexcept;
  void on_own_io(std::uint32_t cookie, int result) noexcept;
  // Target::on_batch_end: the requests gathered since the last send go out in one sendmsg.
  void flush() noexcept;
  // Target::on_io_notification of a zero-copy send.
  void on_own_notification(std::uint32_t cookie, int result) noexcept;
  // The queue is going away: a last NBD_CMD_DISC, and what is still held fails with EIO.
  void stop() noexcept;

  // From any thread, when the device is being stopped: from now on a connection that is down
  // fails what it holds, and new IO, with EIO at once instead of after `timeout`. Requests on a
  // healthy connection complete as usual.
  void stop_waiting() noexcept;

  // Any thread.
  [[nodiscard]] const ZeroCopySendCounters& zero_copy_counters() const noexcept {
    return connection_.zero_copy_counters();
  }

 private:
  enum class Link : std::uint8_t { kUp, kDown, kFailed };
  // An own IO's cookie: the kind in the low byte; a zero-copy send's batch id above it.
  enum class OwnIo : std::uint32_t { kSend = 1, kRecv = 2, kTimer = 3, kWake = 4, kSendZc = 5, kAttempt = 6, kHangup = 7 };
  using Clock = std::chrono::steady_clock;

  void sendmsg(int fd, msghdr* message) noexcept override;
  void recvmsg(int fd, msghdr* message) noexcept override;
  void watch_hangup(int fd) noexcept override;
  void sendmsg_zc(int fd, msghdr* message, bool report_usage, std::uint32_t id) noexcept override;
  void queue_own(std::uint32_t cookie, const RingIo& io) noexcept;
  void queue_own(OwnIo kind, const RingIo& io) noexcept { queue_own(static_cast<std::uint32_t>(kind), io); }
  void deliver_refused() noexcept;
  void arm_wake() noexcept;
  void arm_timer(Clock::time_point at) noexcept;
  void watch_link() noexcept;
  void end_attempt() noexcept;
  void log(const std::string& line) const;

  unsigned index_;
  Endpoint endpoint_;
  Export shape_;
  std::chrono::milliseconds timeout_;
  LogSink log_;
  Connection connection_;
  UniqueFd first_socket_;  // until start()
  QueueContext* queue_ = nullptr;

  // The ring refused an SQE (none left): the IO's result, handed to the connection once it is
  // out of the call that asked for the IO.
  std::vector<std::pair<std::uint32_t, int>> refused_;  // cookie, result
  bool delivering_ = false;

  UniqueFd timer_;  // a timerfd: its read on the ring completes at the next reconnect or timeout
  std::uint64_t timer_value_ = 0;
  bool timer_read_queued_ = false;
  UniqueFd wake_;  // an eventfd: stop_waiting() from another thread
  std::uint64_t wake_value_ = 0;
  std::atomic<bool> no_wait_{false};

  Link link_ = Link::kUp;
  Clock::time_point down_since_{};
  Clock::time_point next_attempt_{};
  std::chrono::milliseconds backoff_{0};
  std::string last_attempt_error_;
  ReconnectAttempt attempt_;
};

}  // namespace ublk::nbd
