#include "worker.hpp"

#include <sys/eventfd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

namespace ublk::nbd {

namespace {
enum class Cqe : std::uint64_t { kSend = 1, kRecv = 2, kEventFd = 3 };
constexpr std::chrono::milliseconds kFirstBackoff{100};
constexpr std::chrono::milliseconds kMaxBackoff{2000};
}  // namespace

ConnectionWorker::ConnectionWorker(unsigned index, Endpoint endpoint, UniqueFd socket, const Export& shape,
                                   unsigned depth, std::chrono::milliseconds timeout, LogSink log)
    : index_(index),
      endpoint_(std::move(endpoint)),
      shape_(shape),
      timeout_(timeout),
      log_(std::move(log)),
      ring_(std::make_unique<Ring>(8)),
      eventfd_(::eventfd(0, EFD_CLOEXEC)),
      connection_(*this, depth, shape, [this](std::string_view line) { this->log(std::string(line)); }) {
  if (!eventfd_) throw std::system_error(errno, std::generic_category(), "eventfd");
  posted_.reserve(depth);
  connection_.attach(std::move(socket));
  thread_ = std::thread([this] { run(); });
}

ConnectionWorker::~ConnectionWorker() {
  stop_.store(true);
  const std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(eventfd_.get(), &one, sizeof one);
  thread_.join();
}

void ConnectionWorker::log(const std::string& line) const {
  if (log_) log_("connection " + std::to_string(index_) + ": " + line);
}

void ConnectionWorker::post(const Request& request, Completion done) noexcept {
  {
    std::lock_guard lock(mutex_);
    posted_.emplace_back(request, done);
  }
  const std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(eventfd_.get(), &one, sizeof one);
}

void ConnectionWorker::stop_waiting() noexcept {
  no_wait_.store(true);
  const std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(eventfd_.get(), &one, sizeof one);
}

void ConnectionWorker::sendmsg(int fd, msghdr* message) noexcept {
  io_uring_sqe* sqe = ring_->sqe();
  io_uring_prep_sendmsg(sqe, fd, message, MSG_NOSIGNAL);
  sqe->user_data = static_cast<std::uint64_t>(Cqe::kSend);
}

void ConnectionWorker::recv(int fd, std::span<std::byte> into) noexcept {
  io_uring_sqe* sqe = ring_->sqe();
  io_uring_prep_recv(sqe, fd, into.data(), into.size(), 0);
  sqe->user_data = static_cast<std::uint64_t>(Cqe::kRecv);
}

void ConnectionWorker::arm_eventfd() noexcept {
  io_uring_sqe* sqe = ring_->sqe();
  io_uring_prep_read(sqe, eventfd_.get(), &eventfd_value_, sizeof eventfd_value_, 0);
  sqe->user_data = static_cast<std::uint64_t>(Cqe::kEventFd);
}

void ConnectionWorker::take_posted() noexcept {
  std::vector<std::pair<Request, Completion>> batch;
  {
    std::lock_guard lock(mutex_);
    batch.swap(posted_);
  }
  for (auto& [request, done] : batch) {
    if (link_ == Link::kFailed) {
      done(-EIO);
    } else {
      connection_.submit(request, done);
    }
  }
}

void ConnectionWorker::watch_link() noexcept {
  if (link_ == Link::kUp && connection_.broken() && connection_.quiet()) {
    connection_.detach();
    link_ = Link::kDown;
    down_since_ = Clock::now();
    next_attempt_ = down_since_;
    backoff_ = kFirstBackoff;
    last_attempt_error_.clear();
  }
  if (link_ == Link::kUp) return;
  if (link_ == Link::kDown && no_wait_.load()) {
    log("stopping without a connection: failing " + std::to_string(connection_.held()) + " request(s) with EIO");
    connection_.fail_all(-EIO);
    link_ = Link::kFailed;
    return;
  }
  if (link_ == Link::kDown && Clock::now() - down_since_ >= timeout_) {
    log("no connection for " + std::to_string(timeout_.count()) + " ms: failing " +
        std::to_string(connection_.held()) + " request(s) with EIO, and new ones until the server is back");
    connection_.fail_all(-EIO);
    link_ = Link::kFailed;
  }
  if (link_ == Link::kFailed && no_wait_.load()) return;  // stopping: no more reconnects
  if (Clock::now() >= next_attempt_) try_reconnect();
}

void ConnectionWorker::try_reconnect() noexcept {
  std::string error;
  try {
    UniqueFd socket = connect_to(endpoint_.address);
    const Export fresh = negotiate(socket.get(), endpoint_.export_name);
    if (fresh.size != shape_.size) {
      error = "the export's size changed from " + std::to_string(shape_.size) + " to " + std::to_string(fresh.size) +
              " bytes: not using it";
    } else if (fresh.read_only() != shape_.read_only()) {
      error = "the export's read-only flag changed: not using it";
    } else {
      connection_.attach(std::move(socket));
      log(std::string("reconnected to ") + endpoint_.address.to_string() +
          (link_ == Link::kDown ? "; resending " + std::to_string(connection_.held()) + " request(s)" : ""));
      link_ = Link::kUp;
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

void ConnectionWorker::run() noexcept {
  arm_eventfd();
  while (!stop_.load()) {
    __kernel_timespec wait{};
    __kernel_timespec* timeout = nullptr;
    // Stopping with the link failed: no reconnect to wake up for, only posts and CQEs.
    const bool reconnecting = link_ != Link::kUp && !(link_ == Link::kFailed && no_wait_.load());
    if (reconnecting) {
      auto until = next_attempt_;
      if (link_ == Link::kDown) until = std::min(until, down_since_ + timeout_);
      const auto ns = std::max<std::int64_t>(
          0, std::chrono::duration_cast<std::chrono::nanoseconds>(until - Clock::now()).count());
      wait.tv_sec = ns / 1'000'000'000;
      wait.tv_nsec = ns % 1'000'000'000;
      timeout = &wait;
    }
    io_uring_cqe* first = nullptr;
    const int ret = io_uring_submit_and_wait_timeout(ring_->raw(), &first, 1, timeout, nullptr);
    if (ret < 0 && ret != -ETIME && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY) {
      log(std::string("io_uring: ") + std::strerror(-ret));
      break;
    }
    ring_->for_each_cqe([this](const io_uring_cqe& cqe) {
      switch (static_cast<Cqe>(cqe.user_data)) {
        case Cqe::kSend: connection_.on_sent(cqe.res); break;
        case Cqe::kRecv: connection_.on_received(cqe.res); break;
        case Cqe::kEventFd: arm_eventfd(); break;
      }
    });
    take_posted();
    watch_link();
  }
  connection_.disconnect();
  // What is still held gets EIO; the ring closes with the object (cancelling the socket IO).
  ring_.reset();
  connection_.fail_all(-EIO);
  link_ = Link::kFailed;
  take_posted();
}

}  // namespace ublk::nbd
