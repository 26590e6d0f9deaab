#pragma once
#include <sys/socket.h>
#include <sys/uio.h>

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "negotiation.hpp"
#include "reply_receiver.hpp"
#include "ublk/target.hpp"
#include "ublk/unique_fd.hpp"

namespace ublk::nbd {

// The IO a connection needs, one send and one receive outstanding at a time on its socket (a
// stream: two sends in flight could interleave). Implemented on an io_uring; the results come
// back through Connection::on_sent / on_received on the same thread.
class Transport {
 public:
  virtual void sendmsg(int fd, msghdr* message) noexcept = 0;
  virtual void recv(int fd, std::span<std::byte> into) noexcept = 0;

 protected:
  ~Transport() = default;
};

using LogSink = std::function<void(std::string_view)>;

// The transmission phase of one NBD connection: requests pipelined up to the queue depth, a
// WRITE's header and payload in one sendmsg straight from the request's buffer, replies
// matched by cookie in any order, many per receive (see ReplyReceiver).
// Single-threaded; holds each request until its reply is complete, and completes it exactly
// once (or hands it back to be resent when the connection breaks: see requeue_all).
class Connection final : private ReplyLookup {
 public:
  Connection(Transport& transport, unsigned depth, const Export& shape, LogSink log);
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // A negotiated socket. What is held (from a broken connection) is sent again on it.
  void attach(UniqueFd socket);
  [[nodiscard]] bool attached() const noexcept { return static_cast<bool>(socket_); }
  // The stream failed (a socket error, the server hung up, a malformed reply): why, once.
  [[nodiscard]] const std::optional<std::string>& broken() const noexcept { return broken_; }
  // No send or receive outstanding: the socket may be closed.
  [[nodiscard]] bool quiet() const noexcept { return !send_busy_ && !recv_busy_; }
  // Closes a broken, quiet socket; what was in flight stays held for the next attach().
  void detach() noexcept;
  // A clean end: NBD_CMD_DISC when the connection is healthy and idle (blocking, best effort).
  void disconnect() noexcept;

  // A request from the queue. What the export cannot do completes at once.
  void submit(const Request& request, Completion done) noexcept;
  // Completes every request held with `error` (after --timeout, or at exit).
  void fail_all(int error) noexcept;
  [[nodiscard]] unsigned held() const noexcept { return held_; }

  // Gathered sends: submit() and a finished send only queue the requests, and flush() sends all
  // that wait in one sendmsg. The queue calls flush once per wake-up (Target::on_batch_end), so
  // the requests of one wake-up share a send instead of the first going alone.
  void gather_sends() noexcept { gather_ = true; }
  void flush() noexcept;

  void on_sent(int result) noexcept;
  void on_received(int result) noexcept;

 private:
  enum class State : std::uint8_t { kFree, kQueued, kSending, kSent };
  struct Slot {
    State state = State::kFree;
    std::uint64_t cookie = 0;
    Request request;
    std::optional<Completion> done;
    RequestHeader header;
    PendingReply reply;
  };
  struct SendBatch {
    std::vector<std::array<std::byte, kRequestHeaderSize>> headers;
    std::vector<iovec> iov;
    std::vector<std::pair<unsigned, std::uint64_t>> members;  // tag, cookie
    std::size_t first = 0;  // the first iovec not fully sent
    msghdr message{};
  };

  PendingReply* find(std::uint64_t cookie) noexcept override;
  void kick() noexcept;
  void start_batch() noexcept;
  void send_rest() noexcept;
  void finish(Slot& slot, int result) noexcept;
  void break_stream(std::string why) noexcept;
  std::optional<RequestHeader> translate(const Request& request, int& refusal) const noexcept;

  Transport& transport_;
  Export shape_;
  LogSink log_;
  UniqueFd socket_;
  std::vector<Slot> slots_;  // by tag
  std::deque<unsigned> to_send_;
  SendBatch batch_;
  ReplyReceiver receiver_;
  std::uint64_t next_generation_ = 1;
  unsigned held_ = 0;
  bool send_busy_ = false;
  bool recv_busy_ = false;
  bool gather_ = false;
  std::optional<std::string> broken_;
};

}  // namespace ublk::nbd
