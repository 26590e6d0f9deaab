#pragma once
#include <array>
#include <chrono>
#include <coroutine>
#include <cstdint>
#include <exception>
#include <string>
#include <vector>

#include "address.hpp"
#include "negotiation.hpp"
#include "ublk/completion.hpp"
#include "ublk/unique_fd.hpp"

namespace ublk::nbd {

// A reconnect attempt as the target's own IO on the queue's ring, so that waiting for the server
// never holds the queue's thread: a non-blocking socket, IORING_OP_CONNECT to each address in
// turn, then the handshake (the coroutine negotiate() runs too), one op at a time, each op's CQE
// coming back through on_io.
//
// Step limit: an op (a step) under way longer than `step_limit` is cut short by
// enforce_step_limit (the owner calls it from its timer, set for step_deadline()). It shuts the
// socket down, which makes the op complete, and the attempt fails with ETIMEDOUT. The socket is
// closed only once its op is back.
//
// The queue's thread only. One attempt at a time; the object is reused for the next. Its buffer
// and addresses are the ring's for as long as an op is outstanding, which after abandon() is until
// the ring closes: so they belong to this object, not to an attempt, and it must outlive the
// queue's ring.
class ReconnectAttempt final : private HandshakeChannel {
 public:
  using Clock = std::chrono::steady_clock;
  struct Connected {
    UniqueFd socket;  // negotiated, blocking (as a setup connection is)
    Export shape;
  };

  // `addresses`: what `address` resolved to at setup. A lookup may block on DNS, which the
  // queue's thread must not; a reconnect goes where the setup went.
  ReconnectAttempt(const Address& address, std::vector<SocketAddress> addresses, std::string export_name,
                   std::chrono::milliseconds step_limit);
  ReconnectAttempt(const ReconnectAttempt&) = delete;
  ReconnectAttempt& operator=(const ReconnectAttempt&) = delete;

  // Starts an attempt unless one is under way. Its IO is queue.submit_own(cookie, ...).
  void begin(QueueContext& queue, std::uint32_t cookie) noexcept;
  // The CQE for `cookie`.
  void on_io(int result) noexcept;
  // Started and not taken yet.
  [[nodiscard]] bool busy() const noexcept { return task_.valid() || start_error_; }
  // The attempt has ended, with no op outstanding: take() it.
  [[nodiscard]] bool finished() const noexcept { return task_.done() || start_error_; }
  // The socket, or throws what the attempt failed with (std::system_error, NegotiationError).
  // Either way the object is free for the next attempt.
  Connected take();

  // When the op under way runs out of time; Clock::time_point::max() when there is none to cut.
  [[nodiscard]] Clock::time_point step_deadline() const noexcept;
  void enforce_step_limit(Clock::time_point now) noexcept;

  // The queue is going away: its ring closes next, which cancels the op under way, and nothing
  // comes back. Destroys the attempt's coroutines and closes its socket.
  void abandon() noexcept;

 private:
  // A raw op (the connect), awaited in connect_and_negotiate().
  struct RingOp {
    ReconnectAttempt& attempt;
    RingIo io;
    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> waiting) noexcept { return attempt.submit(io, waiting); }
    int await_resume() const noexcept { return attempt.result_; }
  };

  Task<Export> connect_and_negotiate();
  bool start(Step& step, std::coroutine_handle<> waiting) noexcept override;
  // true: the op is on the ring and `waiting` resumes at its CQE. false: refused, result_ says why.
  bool submit(const RingIo& io, std::coroutine_handle<> waiting) noexcept;
  void finish_step() noexcept;

  std::string label_;  // the address, for messages
  std::vector<SocketAddress> addresses_;
  std::string export_name_;
  std::chrono::milliseconds step_limit_;

  QueueContext* queue_ = nullptr;
  std::uint32_t cookie_ = 0;
  Task<Export> task_;
  std::exception_ptr start_error_;  // the attempt could not even begin
  UniqueFd socket_;

  // The op under way.
  bool in_flight_ = false;
  bool timed_out_ = false;
  Clock::time_point deadline_{};
  std::coroutine_handle<> waiting_;
  Step* step_ = nullptr;  // a handshake step: its result, and what a receive got, go there
  int result_ = 0;
  // Handshake sends and receives go through here, never straight from or into a coroutine's
  // frame: abandon() destroys the frames while the ring may still hold the op. A step is at most
  // this long; the handshake loops over partial ones.
  std::array<std::byte, 1024> buffer_{};
};

}  // namespace ublk::nbd
