#pragma once
// A stand-in for a ublk queue without a kernel: its own thread and a real io_uring (the queue's
// own QueueRing), on which a target's IO runs as on a Queue. The test posts requests from its
// thread; the queue's thread hands them to the target, and routes the target's CQEs back.
#include <sys/eventfd.h>

#include <atomic>
#include <cerrno>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#include "queue_ring.hpp"
#include "zero_copy_cqe.hpp"
#include "ublk/target.hpp"
#include "ublk/unique_fd.hpp"

namespace ublk::test {

class RingQueue final : public QueueContext {
 public:
  RingQueue(Target& target, unsigned id) : target_(target), id_(id), eventfd_(::eventfd(0, EFD_CLOEXEC)) {
    if (!eventfd_) throw std::runtime_error("eventfd");
    std::promise<void> started;
    auto ready = started.get_future();
    thread_ = std::thread([this, &started] { run(started); });
    ready.get();
  }
  ~RingQueue() {
    stop_.store(true);
    poke();
    thread_.join();
  }
  RingQueue(const RingQueue&) = delete;
  RingQueue& operator=(const RingQueue&) = delete;

  // From any thread: target.handle(request, done) on the queue's thread.
  void post(const Request& request, Completion done) {
    {
      std::lock_guard lock(mutex_);
      posted_.emplace_back(request, done);
    }
    poke();
  }

  [[nodiscard]] unsigned id() const noexcept override { return id_; }
  std::error_code submit(unsigned tag, std::uint32_t cookie, const RingIo& io) noexcept override {
    if (std::this_thread::get_id() != thread_id_.load()) return std::make_error_code(std::errc::operation_not_permitted);
    const bool zero_copy = io.op == RingIo::Op::kSendmsgZc;
    if (auto error = ring_->target_io(io, user_data(tag, cookie) | (zero_copy ? kZeroCopy : 0))) return error;
    if (zero_copy) ++zero_copy_in_flight_;
    return {};
  }
  // On the queue's thread, or once it has ended: zero-copy sends whose notification is still due.
  [[nodiscard]] unsigned zero_copy_in_flight() const noexcept { return zero_copy_in_flight_.load(); }
  std::error_code submit_own(std::uint32_t cookie, const RingIo& io) noexcept override {
    return submit(kOwnIo, cookie, io);
  }
  int register_files(std::span<const int> fds) noexcept override { return ring_->register_files(fds); }
  [[nodiscard]] Completion completion(unsigned) noexcept override { std::abort(); }  // requests carry theirs

 private:
  static constexpr std::uint64_t kEventFd = ~std::uint64_t{0};
  static constexpr std::uint64_t kZeroCopy = std::uint64_t{1} << 48;  // a sendmsg_zc: completes twice
  static std::uint64_t user_data(unsigned tag, std::uint32_t cookie) noexcept {
    return (std::uint64_t{tag} << 32) | cookie;
  }

  // As Queue does: a zero-copy send's result, then exactly one notification (made up when the
  // kernel posts none).
  void dispatch(const Cqe& cqe) noexcept {
    const auto tag = static_cast<unsigned>((cqe.user_data >> 32) & 0xffff);
    const auto cookie = static_cast<std::uint32_t>(cqe.user_data);
    if (!(cqe.user_data & kZeroCopy)) return target_.on_io_complete(*this, tag, cookie, cqe.res);
    if (deliver_zero_copy_cqe(target_, *this, tag, cookie, cqe)) --zero_copy_in_flight_;
  }

  void poke() noexcept {
    const std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(eventfd_.get(), &one, sizeof one);
  }

  void run(std::promise<void>& started) {
    thread_id_.store(std::this_thread::get_id());
    try {
      ring_ = make_uring_queue_ring(64);
      target_.on_queue_start(*this);
      (void)ring_->read_eventfd(eventfd_.get(), &eventfd_value_, kEventFd);
    } catch (...) {
      started.set_exception(std::current_exception());
      return;
    }
    started.set_value();
    std::vector<Cqe> cqes;
    // Like a Queue: a zero-copy send's pages stay the kernel's until its notification.
    while (!stop_.load() || zero_copy_in_flight_.load() > 0) {
      const int ret = ring_->submit_and_wait(1);
      if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY) break;
      cqes.clear();
      ring_->reap(cqes);
      for (const Cqe& cqe : cqes) {
        if (cqe.user_data == kEventFd) {
          take_posted();
          (void)ring_->read_eventfd(eventfd_.get(), &eventfd_value_, kEventFd);
        } else {
          dispatch(cqe);
        }
      }
      target_.on_batch_end(*this);
    }
    target_.on_queue_stop(*this);
    ring_.reset();
    take_posted();  // what came in while stopping: the target fails it
  }

  void take_posted() {
    std::vector<std::pair<Request, Completion>> batch;
    {
      std::lock_guard lock(mutex_);
      batch.swap(posted_);
    }
    for (auto& [request, done] : batch) target_.handle(request, done);
  }

  Target& target_;
  unsigned id_;
  UniqueFd eventfd_;
  std::uint64_t eventfd_value_ = 0;
  std::unique_ptr<QueueRing> ring_;
  std::mutex mutex_;
  std::vector<std::pair<Request, Completion>> posted_;
  std::atomic<bool> stop_{false};
  std::atomic<unsigned> zero_copy_in_flight_{0};
  std::atomic<std::thread::id> thread_id_{};
  std::thread thread_;
};

}  // namespace ublk::test
