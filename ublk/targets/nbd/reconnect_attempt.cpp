#include "reconnect_attempt.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>
#include <utility>

namespace ublk::nbd {

ReconnectAttempt::ReconnectAttempt(const Address& address, std::vector<SocketAddress> addresses,
                                   std::string export_name, std::chrono::milliseconds step_limit)
    : label_(address.to_string()),
      addresses_(std::move(addresses)),
      export_name_(std::move(export_name)),
      step_limit_(step_limit) {}

void ReconnectAttempt::begin(QueueContext& queue, std::uint32_t cookie) noexcept {
  if (busy()) return;
  queue_ = &queue;
  cookie_ = cookie;
  try {
    task_ = connect_and_negotiate();
  } catch (...) {  // no memory for the coroutine
    start_error_ = std::current_exception();
    return;
  }
  task_.run();
}

Task<Export> ReconnectAttempt::connect_and_negotiate() {
  int error = EHOSTUNREACH;
  for (const SocketAddress& to : addresses_) {
    socket_.reset(::socket(to.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!socket_) {
      error = errno;
      continue;
    }
    // Unlike a blocking connect, a unix listener with a full backlog fails it at once (EAGAIN):
    // one more failed attempt, retried after the backoff.
    const int result = co_await RingOp{*this, RingIo::connect(socket_.get(), to.get(), to.length)};
    if (result == 0) break;
    error = -result;
    socket_.reset();  // its op is back
  }
  if (!socket_) throw std::system_error(error, std::generic_category(), "cannot connect to " + label_);
  // From here on the socket is as a setup connection's; the ring polls a socket either way.
  make_transmission_socket(socket_.get());
  co_return co_await handshake(*this, export_name_);
}

ReconnectAttempt::Connected ReconnectAttempt::take() {
  if (start_error_) std::rethrow_exception(std::exchange(start_error_, nullptr));
  Task<Export> task = std::move(task_);
  UniqueFd socket = std::move(socket_);
  return {std::move(socket), task.result()};
}

bool ReconnectAttempt::start(Step& step, std::coroutine_handle<> waiting) noexcept {
  const auto bytes = step.bytes().first(std::min(step.bytes().size(), buffer_.size()));
  const std::span<std::byte> staged(buffer_.data(), bytes.size());
  if (step.sending()) std::copy(bytes.begin(), bytes.end(), staged.begin());
  step_ = &step;
  if (submit(step.sending() ? RingIo::send(socket_.get(), staged, MSG_NOSIGNAL) : RingIo::recv(socket_.get(), staged),
             waiting)) {
    return true;
  }
  finish_step();
  return false;
}

bool ReconnectAttempt::submit(const RingIo& io, std::coroutine_handle<> waiting) noexcept {
  if (const std::error_code error = queue_->submit_own(cookie_, io)) {
    result_ = -error.value();
    return false;
  }
  in_flight_ = true;
  timed_out_ = false;
  deadline_ = Clock::now() + step_limit_;
  waiting_ = waiting;
  return true;
}

void ReconnectAttempt::finish_step() noexcept {
  Step* step = std::exchange(step_, nullptr);
  if (!step) return;
  if (!step->sending() && result_ > 0) std::copy_n(buffer_.begin(), result_, step->bytes().begin());
  step->finish(result_);
}

void ReconnectAttempt::on_io(int result) noexcept {
  if (!in_flight_) return;
  in_flight_ = false;
  // Shut down because the step ran out: whatever the op says, that is why it ended.
  result_ = timed_out_ ? -ETIMEDOUT : result;
  finish_step();
  std::exchange(waiting_, {}).resume();
}

ReconnectAttempt::Clock::time_point ReconnectAttempt::step_deadline() const noexcept {
  return in_flight_ && !timed_out_ ? deadline_ : Clock::time_point::max();
}

void ReconnectAttempt::enforce_step_limit(Clock::time_point now) noexcept {
  if (!in_flight_ || timed_out_ || now < deadline_) return;
  timed_out_ = true;
  ::shutdown(socket_.get(), SHUT_RDWR);
}

void ReconnectAttempt::abandon() noexcept {
  task_.reset();
  start_error_ = nullptr;
  in_flight_ = false;
  waiting_ = {};
  step_ = nullptr;
  socket_.reset();
}

}  // namespace ublk::nbd
