#include "ring_connection.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>

#include <cerrno>
#include <system_error>

namespace ublk::nbd {

RingConnection::RingConnection(unsigned index, Endpoint endpoint, UniqueFd socket, const Export& shape, unsigned depth,
                               std::chrono::milliseconds timeout, LogSink log,
                               std::optional<std::uint64_t> zero_copy_min)
    : index_(index),
      endpoint_(std::move(endpoint)),
      shape_(shape),
      timeout_(timeout),
      log_(std::move(log)),
      connection_(*this, depth, shape, [this](std::string_view line) { this->log(std::string(line)); }, zero_copy_min),
      first_socket_(std::move(socket)),
      timer_(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC)),
      wake_(::eventfd(0, EFD_CLOEXEC)),
      attempt_(endpoint_.address, resolve(endpoint_.address), endpoint_.export_name, kStepLimit) {
  if (!timer_) throw std::system_error(errno, std::generic_category(), "timerfd_create");
  if (!wake_) throw std::system_error(errno, std::generic_category(), "eventfd");
  refused_.reserve(4);
}

void RingConnection::log(const std::string& line) const {
  if (log_) log_("connection " + std::to_string(index_) + ": " + line);
}

void RingConnection::start(QueueContext& queue) noexcept {
  queue_ = &queue;
  arm_wake();
  connection_.attach(std::move(first_socket_));
  deliver_refused();
  watch_link();
}

void RingConnection::submit(const Request& request, Completion done) noexcept {
  if (link_ == Link::kFailed) return done(-EIO);
  connection_.submit(request, done);
  deliver_refused();
  watch_link();
}

namespace {
constexpr std::uint32_t kKindBits = 8;
}  // namespace

void RingConnection::on_own_io(std::uint32_t cookie, int result) noexcept {
  switch (static_cast<OwnIo>(cookie & ((1U << kKindBits) - 1))) {
    case OwnIo::kSend:
    case OwnIo::kSendZc: connection_.on_sent(result); break;
    case OwnIo::kRecv: connection_.on_received(result); break;
    case OwnIo::kHangup: connection_.on_hangup(result); break;
    case OwnIo::kTimer: timer_read_queued_ = false; break;
    case OwnIo::kWake: arm_wake(); break;
    case OwnIo::kAttempt: attempt_.on_io(result); break;
  }
  deliver_refused();
  watch_link();
}

void RingConnection::flush() noexcept {
  connection_.flush();
  deliver_refused();
  watch_link();
}

void RingConnection::on_own_notification(std::uint32_t cookie, int result) noexcept {
  connection_.on_send_notified(cookie >> kKindBits, result);
  deliver_refused();
  watch_link();
}

void RingConnection::stop() noexcept {
  connection_.disconnect();
  // The queue's ring closes after this and cancels the socket's IO: nothing comes back.
  connection_.fail_all(-EIO);
  link_ = Link::kFailed;
  attempt_.abandon();  // a reconnect under way: its op goes with the ring too
  queue_ = nullptr;
}

void RingConnection::stop_waiting() noexcept {
  no_wait_.store(true);
  const std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_.get(), &one, sizeof one);
}

void RingConnection::sendmsg(int fd, msghdr* message) noexcept {
  queue_own(OwnIo::kSend, RingIo::sendmsg(fd, message, MSG_NOSIGNAL));
}

void RingConnection::recvmsg(int fd, msghdr* message) noexcept {
  queue_own(OwnIo::kRecv, RingIo::recvmsg(fd, message));
}

void RingConnection::watch_hangup(int fd) noexcept { queue_own(OwnIo::kHangup, RingIo::poll(fd, POLLRDHUP)); }

void RingConnection::sendmsg_zc(int fd, msghdr* message, bool report_usage, std::uint32_t id) noexcept {
  const std::uint32_t cookie = (id << kKindBits) | static_cast<std::uint32_t>(OwnIo::kSendZc);
  queue_own(cookie, RingIo::sendmsg_zc(fd, message, MSG_NOSIGNAL, report_usage));
}

void RingConnection::queue_own(std::uint32_t cookie, const RingIo& io) noexcept {
  const std::error_code error =
      queue_ ? queue_->submit_own(cookie, io) : std::make_error_code(std::errc::bad_file_descriptor);
  if (error) refused_.emplace_back(cookie, -error.value());
}

// The connection learns of a refused send or receive as of a failed one, but only once the call
// that asked for it has returned (it is not reentrant).
void RingConnection::deliver_refused() noexcept {
  if (delivering_) return;
  delivering_ = true;
  while (!refused_.empty()) {
    const auto [cookie, result] = refused_.front();
    refused_.erase(refused_.begin());
    switch (static_cast<OwnIo>(cookie & ((1U << kKindBits) - 1))) {
      case OwnIo::kSend: connection_.on_sent(result); break;
      case OwnIo::kSendZc:  // never went in: no notification will come either
        connection_.on_sent(result);
        connection_.on_send_notified(cookie >> kKindBits, 0);
        break;
      case OwnIo::kRecv: connection_.on_received(result); break;
      case OwnIo::kHangup: connection_.on_hangup(result); break;
      case OwnIo::kTimer: timer_read_queued_ = false; break;
      case OwnIo::kWake: break;  // no_wait_ is also read at every event
      case OwnIo::kAttempt: break;  // never here: the attempt takes its refusals itself
    }
  }
  delivering_ = false;
}

void RingConnection::arm_wake() noexcept {
  queue_own(OwnIo::kWake, RingIo::read(wake_.get(), std::as_writable_bytes(std::span(&wake_value_, 1)), 0));
}

void RingConnection::arm_timer(Clock::time_point at) noexcept {
  // steady_clock is CLOCK_MONOTONIC; a time already past still fires (a zero it_value disarms).
  const auto ns = std::max<std::int64_t>(
      1, std::chrono::duration_cast<std::chrono::nanoseconds>(at.time_since_epoch()).count());
  itimerspec spec{};
  spec.it_value.tv_sec = ns / 1'000'000'000;
  spec.it_value.tv_nsec = ns % 1'000'000'000;
  if (::timerfd_settime(timer_.get(), TFD_TIMER_ABSTIME, &spec, nullptr) != 0) return;
  if (timer_read_queued_) return;
  timer_read_queued_ = true;
  queue_own(OwnIo::kTimer, RingIo::read(timer_.get(), std::as_writable_bytes(std::span(&timer_value_, 1)), 0));
}

void RingConnection::watch_link() noexcept {
  if (!queue_) return;
  if (link_ == Link::kUp && connection_.broken() && connection_.quiet()) {
    connection_.detach();
    link_ = Link::kDown;
    down_since_ = Clock::now();
    next_attempt_ = down_since_;
    backoff_ = kFirstBackoff;
    last_attempt_error_.clear();
  }
  if (attempt_.finished()) end_attempt();
  if (link_ == Link::kUp) {
    deliver_refused();
    return;
  }
  const bool stopping = no_wait_.load();
  if (link_ == Link::kDown && stopping) {
    log("stopping without a connection: failing " + std::to_string(connection_.held()) + " request(s) with EIO");
    connection_.fail_all(-EIO);
    link_ = Link::kFailed;
  }
  if (link_ == Link::kDown && Clock::now() - down_since_ >= timeout_) {
    log("no connection for " + std::to_string(timeout_.count()) + " ms: failing " +
        std::to_string(connection_.held()) + " request(s) with EIO, and new ones until the server is back");
    connection_.fail_all(-EIO);
    link_ = Link::kFailed;
  }
  // Stopping: no more reconnects (one under way ends by itself, or with the queue).
  if (!stopping && !attempt_.busy() && Clock::now() >= next_attempt_) {
    attempt_.begin(*queue_, static_cast<std::uint32_t>(OwnIo::kAttempt));
    if (attempt_.finished()) end_attempt();  // it could not even start
  }
  attempt_.enforce_step_limit(Clock::now());
  deliver_refused();
  if (link_ == Link::kUp || (stopping && !attempt_.busy())) return;
  auto wake_at = attempt_.busy() ? attempt_.step_deadline() : next_attempt_;
  if (link_ == Link::kDown) wake_at = std::min(wake_at, down_since_ + timeout_);
  if (wake_at != Clock::time_point::max()) arm_timer(wake_at);
}

void RingConnection::end_attempt() noexcept {
  std::string error;
  try {
    ReconnectAttempt::Connected fresh = attempt_.take();
    if (fresh.shape.size != shape_.size) {
      error = "the export's size changed from " + std::to_string(shape_.size) + " to " +
              std::to_string(fresh.shape.size) + " bytes: not using it";
    } else if (fresh.shape.read_only() != shape_.read_only()) {
      error = "the export's read-only flag changed: not using it";
    } else {
      const bool resending = link_ == Link::kDown;
      link_ = Link::kUp;
      connection_.attach(std::move(fresh.socket));
      log(std::string("reconnected to ") + endpoint_.address.to_string() +
          (resending ? "; resending " + std::to_string(connection_.held()) + " request(s)" : ""));
      return;
    }
  } catch (const std::exception& e) {
    error = e.what();
  }
  if (error != last_attempt_error_) log("reconnect failed: " + error);
  last_attempt_error_ = error;
  next_attempt_ = Clock::now() + backoff_;
  backoff_ = std::min(backoff_ * 2, kMaxBackoff);
}

}  // namespace ublk::nbd
