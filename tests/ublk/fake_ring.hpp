#pragma once
// A QueueRing without a kernel: the queue's SQEs land in a list the test reads, and the test
// hands back CQEs. The eventfd read is real: it completes when the eventfd is readable.
#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "queue_ring.hpp"

namespace ublk::test {

struct FakeSqe {
  enum class Kind { kUblk, kTargetIo, kEventFd, kTimeout } kind = Kind::kUblk;
  std::uint64_t user_data = 0;
  std::uint32_t cmd_op = 0;
  ublksrv_io_cmd cmd{};
  std::uint64_t sqe_addr = 0;  // the SQE's own addr (AUTO_BUF_REG)
  RingIo io{};
  std::chrono::nanoseconds after{0};
};

// Shared by the ring (owned by the queue, gone with its thread) and the test.
struct FakeRingState {
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<FakeSqe> prepared;    // not yet submitted
  std::vector<FakeSqe> submitted;   // every SQE the queue submitted, in order
  std::deque<Cqe> cqes;             // what the test completed, not yet reaped
  int eventfd = -1;                 // the outstanding eventfd read, if any
  std::uint64_t* eventfd_value = nullptr;
  std::uint64_t eventfd_user_data = 0;
  std::size_t buffers_registered = 0;
  std::vector<iovec> buffer_table;  // what register_buffers registered
  unsigned sparse_slots = 0;        // register_sparse_buffers' table size
  int fail_wait = 0;  // set: the next submit_and_wait returns it (-errno), as a broken ring would

  void complete(std::uint64_t user_data, int res, std::uint32_t flags = 0) {
    std::lock_guard lock(mutex);
    cqes.push_back({user_data, res, flags});
    changed.notify_all();
  }
  // Waits until an SQE after `from` (an index in submitted) matches; returns its index.
  std::optional<std::size_t> wait_for(std::size_t from, const std::function<bool(const FakeSqe&)>& match,
                                      std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    std::unique_lock lock(mutex);
    std::optional<std::size_t> found;
    changed.wait_for(lock, timeout, [&] {
      for (std::size_t i = from; i < submitted.size(); ++i) {
        if (match(submitted[i])) {
          found = i;
          return true;
        }
      }
      return false;
    });
    return found;
  }
  FakeSqe at(std::size_t index) {
    std::lock_guard lock(mutex);
    return submitted.at(index);
  }
  std::size_t count() {
    std::lock_guard lock(mutex);
    return submitted.size();
  }
};

class FakeRing final : public QueueRing {
 public:
  explicit FakeRing(std::shared_ptr<FakeRingState> state) : state_(std::move(state)) {}

  std::error_code ublk_command(int, std::uint32_t cmd_op, const ublksrv_io_cmd& cmd, std::uint64_t sqe_addr,
                               std::uint64_t user_data) noexcept override {
    FakeSqe sqe;
    sqe.kind = FakeSqe::Kind::kUblk;
    sqe.cmd_op = cmd_op;
    sqe.cmd = cmd;
    sqe.sqe_addr = sqe_addr;
    sqe.user_data = user_data;
    return prepare(sqe);
  }
  std::error_code target_io(const RingIo& io, std::uint64_t user_data) noexcept override {
    FakeSqe sqe;
    sqe.kind = FakeSqe::Kind::kTargetIo;
    sqe.io = io;
    sqe.user_data = user_data;
    return prepare(sqe);
  }
  std::error_code read_eventfd(int fd, std::uint64_t* value, std::uint64_t user_data) noexcept override {
    std::lock_guard lock(state_->mutex);
    state_->eventfd = fd;
    state_->eventfd_value = value;
    state_->eventfd_user_data = user_data;
    FakeSqe sqe;
    sqe.kind = FakeSqe::Kind::kEventFd;
    sqe.user_data = user_data;
    state_->prepared.push_back(sqe);
    return {};
  }
  std::error_code timeout(std::chrono::nanoseconds after, std::uint64_t user_data) noexcept override {
    FakeSqe sqe;
    sqe.kind = FakeSqe::Kind::kTimeout;
    sqe.after = after;
    sqe.user_data = user_data;
    return prepare(sqe);
  }
  int submit() noexcept override {
    std::lock_guard lock(state_->mutex);
    return submit_locked();
  }
  int submit_and_wait(unsigned) noexcept override {
    std::unique_lock lock(state_->mutex);
    const int n = submit_locked();
    while (state_->cqes.empty()) {
      if (state_->fail_wait) return std::exchange(state_->fail_wait, 0);
      if (state_->eventfd >= 0) {
        pollfd p{state_->eventfd, POLLIN, 0};
        if (::poll(&p, 1, 0) == 1) {
          std::uint64_t value = 0;
          if (::read(state_->eventfd, &value, sizeof value) == sizeof value) {
            *state_->eventfd_value = value;
            state_->cqes.push_back({state_->eventfd_user_data, static_cast<int>(sizeof value)});
            state_->eventfd = -1;
            break;
          }
        }
      }
      state_->changed.wait_for(lock, std::chrono::milliseconds(1));
    }
    return n;
  }
  unsigned pending_sqes() noexcept override {
    std::lock_guard lock(state_->mutex);
    return static_cast<unsigned>(state_->prepared.size());
  }
  void reap(std::vector<Cqe>& out) override {
    std::lock_guard lock(state_->mutex);
    out.insert(out.end(), state_->cqes.begin(), state_->cqes.end());
    state_->cqes.clear();
  }
  int register_buffers(std::span<const iovec> buffers) noexcept override {
    std::lock_guard lock(state_->mutex);
    state_->buffers_registered = buffers.size();
    state_->buffer_table.assign(buffers.begin(), buffers.end());
    return 0;
  }
  int register_sparse_buffers(unsigned slots) noexcept override {
    std::lock_guard lock(state_->mutex);
    state_->sparse_slots = slots;
    return 0;
  }
  int register_files(std::span<const int> fds) noexcept override {
    const int first = files_;
    files_ += static_cast<int>(fds.size());
    return first;
  }

 private:
  std::error_code prepare(const FakeSqe& sqe) {
    std::lock_guard lock(state_->mutex);
    state_->prepared.push_back(sqe);
    return {};
  }
  int submit_locked() {
    const int n = static_cast<int>(state_->prepared.size());
    state_->submitted.insert(state_->submitted.end(), state_->prepared.begin(), state_->prepared.end());
    state_->prepared.clear();
    if (n) state_->changed.notify_all();
    return n;
  }

  std::shared_ptr<FakeRingState> state_;
  int files_ = 0;
};

}  // namespace ublk::test
