#pragma once
#include <sys/socket.h>
#include <sys/uio.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
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
// back through Connection::on_sent / on_received / on_hangup on the same thread.
class Transport {
 public:
  virtual void sendmsg(int fd, msghdr* message) noexcept = 0;
  virtual void recvmsg(int fd, msghdr* message) noexcept = 0;
  // Completes (Connection::on_hangup) once the peer has closed its end, or the socket is shut down.
  virtual void watch_hangup(int fd) noexcept = 0;
  // A zero-copy sendmsg (IORING_OP_SENDMSG_ZC). Its result comes to Connection::on_sent; then,
  // exactly once and also when it failed, Connection::on_send_notified(id, usage) once the kernel
  // no longer reads the message's pages. report_usage: ask whether the kernel copied after all.
  virtual void sendmsg_zc(int fd, msghdr* message, bool report_usage, std::uint32_t id) noexcept = 0;

 protected:
  ~Transport() = default;
};

using LogSink = std::function<void(std::string_view)>;

// Zero-copy sends of one connection, for the daemon's report: readable from any thread.
struct ZeroCopySendCounters {
  std::atomic<std::uint64_t> write_bytes{0};  // WRITE payload bytes sent with sendmsg_zc
  std::atomic<std::uint64_t> sends{0};        // sendmsg_zc calls that sent bytes
  std::atomic<std::uint64_t> copied{0};       // of those, the ones it copied after all
  std::atomic<bool> usage_reported{true};     // false: the kernel does not say (before 6.2)
};

// The transmission phase of one NBD connection: requests pipelined up to the queue depth, a
// WRITE's header and payload in one sendmsg straight from the request's buffer, replies
// matched by cookie in any order, many per receive (see ReplyReceiver).
// Single-threaded; holds each request until its reply is complete, and completes it exactly
// once (or hands it back to be resent when the connection breaks: see detach).
//
// Requests wait for flush(), and go out together in one sendmsg. A receive is outstanding only
// while the server owes a reply: one armed while idle would have to guess before the next
// request exists, and with one READ owed the receive goes straight to that READ's buffer. A
// hang-up while idle is seen through Transport::watch_hangup.
//
// Zero-copy send: a batch whose WRITE payload is at least `zero_copy_min` bytes goes as one
// Transport::sendmsg_zc. Its requests' buffers and its headers are the kernel's until the
// notification: a WRITE whose reply comes first completes only then, and the next batches use
// other header storage. A socket that refuses it (EOPNOTSUPP, EINVAL) makes the connection send
// plainly from then on (one log line); the batch is sent again.
class Connection final : private ReplyLookup {
 public:
  Connection(Transport& transport, unsigned depth, const Export& shape, LogSink log,
             std::optional<std::uint64_t> zero_copy_min = std::nullopt);
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // A negotiated socket. What is held (from a broken connection) is sent again on it. A TCP
  // server that goes silent is given up after kSilentPeerLimit (silent_peer.hpp).
  void attach(UniqueFd socket);
  [[nodiscard]] bool attached() const noexcept { return static_cast<bool>(socket_); }
  // The stream failed (a socket error, the server hung up, a malformed reply): why, once.
  [[nodiscard]] const std::optional<std::string>& broken() const noexcept { return broken_; }
  // No send, receive or zero-copy notification outstanding: the socket may be closed.
  [[nodiscard]] bool quiet() const noexcept {
    return !send_busy_ && !recv_busy_ && !hangup_busy_ && notifications_due_ == 0;
  }
  // Closes a broken, quiet socket; what was in flight stays held for the next attach().
  void detach() noexcept;
  // A clean end: NBD_CMD_DISC when the connection is healthy and idle (blocking, best effort).
  void disconnect() noexcept;

  // A request from the queue. What the export cannot do completes at once.
  void submit(const Request& request, Completion done) noexcept;
  // Completes every request held with `error` (after --timeout, or at exit).
  void fail_all(int error) noexcept;
  [[nodiscard]] unsigned held() const noexcept { return held_; }

  // Sends what submit() queued, all in one sendmsg (when no send is out). The queue calls it once
  // per wake-up (Target::on_batch_end), so the requests of one wake-up share a send.
  void flush() noexcept;

  void on_sent(int result) noexcept;
  void on_received(int result) noexcept;
  void on_hangup(int result) noexcept;
  // A sendmsg_zc's notification: `usage` has RingIo::kZeroCopyCopied when the kernel copied.
  void on_send_notified(std::uint32_t id, int usage) noexcept;

  [[nodiscard]] const ZeroCopySendCounters& zero_copy_counters() const noexcept { return zero_copy_counters_; }

 private:
  // kReplied: a zero-copy WRITE whose reply came before the kernel let go of its buffer.
  enum class State : std::uint8_t { kFree, kQueued, kSending, kSent, kReplied };
  struct Slot {
    State state = State::kFree;
    std::uint64_t cookie = 0;
    Request request;
    std::optional<Completion> done;
    RequestHeader header;
    PendingReply reply;
    bool pinned = false;  // its buffer is in a zero-copy send not yet notified
    int replied = 0;      // kReplied: the reply's result
  };
  // One sendmsg's worth of requests. Its headers and iovecs stay put while it is sent, and, after
  // a zero-copy send, until every notification of it is in.
  struct SendBatch {
    std::vector<std::array<std::byte, kRequestHeaderSize>> headers;
    std::vector<iovec> iov;
    std::vector<std::pair<unsigned, std::uint64_t>> members;  // tag, cookie
    std::size_t first = 0;  // the first iovec not fully sent
    msghdr message{};
    std::uint64_t write_bytes = 0;  // WRITE payload in it
    bool sending = false;           // not fully sent yet
    bool zero_copy = false;         // its sends go as sendmsg_zc
    unsigned notifications = 0;     // its sendmsg_zc calls not notified yet
    std::uint32_t id = 0;           // its index in batches_
  };

  PendingReply* find(std::uint64_t cookie) noexcept override;
  void receive() noexcept;
  // The reply the server owes when it owes exactly one.
  [[nodiscard]] const PendingReply* owed() const noexcept;
  void start_batch() noexcept;
  void send_rest() noexcept;
  void finish(Slot& slot, int result) noexcept;
  // A reply's result: the request completes now, or when its zero-copy send is notified.
  void complete(Slot& slot, int result) noexcept;
  // A batch fully sent and notified: its pinned requests are free to complete.
  void unpin(SendBatch& batch) noexcept;
  SendBatch& free_batch();
  void refused_zero_copy(int result) noexcept;
  void break_stream(std::string why) noexcept;
  std::optional<RequestHeader> translate(const Request& request, int& refusal) const noexcept;

  Transport& transport_;
  Export shape_;
  LogSink log_;
  UniqueFd socket_;
  std::vector<Slot> slots_;  // by tag
  std::deque<unsigned> to_send_;
  // Stable addresses (the kernel holds pointers into a batch); an index is a batch's id.
  std::vector<std::unique_ptr<SendBatch>> batches_;
  SendBatch* current_ = nullptr;  // the one being sent
  ReplyReceiver receiver_;
  msghdr recv_message_{};
  std::uint64_t next_generation_ = 1;
  unsigned held_ = 0;
  unsigned awaiting_ = 0;  // requests sent (or being sent) whose reply has not finished
  unsigned last_sent_ = 0;  // the tag sent last
  bool send_busy_ = false;
  bool recv_busy_ = false;
  bool hangup_busy_ = false;
  std::optional<std::string> broken_;
  std::optional<std::uint64_t> zero_copy_min_;  // nullopt: zero-copy send off (asked, or refused)
  bool report_usage_ = true;
  unsigned notifications_due_ = 0;
  ZeroCopySendCounters zero_copy_counters_;
};

}  // namespace ublk::nbd
