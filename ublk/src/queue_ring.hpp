#pragma once
#include <linux/ublk_cmd.h>
#include <sys/uio.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <system_error>
#include <vector>

#include "ublk/ring_io.hpp"

namespace ublk {

struct Cqe {
  static constexpr std::uint32_t kMore = 1U << 1;          // IORING_CQE_F_MORE: another CQE follows
  static constexpr std::uint32_t kNotification = 1U << 3;  // IORING_CQE_F_NOTIF: a zero-copy send's last
  std::uint64_t user_data = 0;
  int res = 0;
  std::uint32_t flags = 0;  // kMore, kNotification (the kernel's IORING_CQE_F_*)
};

// What a queue does with its io_uring: the ublk commands, the target's IO, the eventfd read and a
// deadline timer. An interface so that a unit test can drive a Queue without a kernel.
// Used by the queue's thread only.
class QueueRing {
 public:
  virtual ~QueueRing() = default;
  // Each prepares one SQE (submitting first when the SQ is full); an error only when none is left.
  // sqe_addr: the SQE's own addr field, outside the command (AUTO_BUF_REG's slot; else 0).
  virtual std::error_code ublk_command(int char_fd, std::uint32_t cmd_op, const ublksrv_io_cmd& cmd,
                                       std::uint64_t sqe_addr, std::uint64_t user_data) noexcept = 0;
  virtual std::error_code target_io(const RingIo& io, std::uint64_t user_data) noexcept = 0;
  virtual std::error_code read_eventfd(int fd, std::uint64_t* value, std::uint64_t user_data) noexcept = 0;
  virtual std::error_code timeout(std::chrono::nanoseconds after, std::uint64_t user_data) noexcept = 0;
  // io_uring_submit / io_uring_submit_and_wait: >= 0, or -errno.
  virtual int submit() noexcept = 0;
  virtual int submit_and_wait(unsigned nr) noexcept = 0;
  [[nodiscard]] virtual unsigned pending_sqes() noexcept = 0;
  // Appends every ready CQE to `out` and marks them seen.
  virtual void reap(std::vector<Cqe>& out) = 0;
  // 0 or -errno.
  virtual int register_buffers(std::span<const iovec> buffers) noexcept = 0;
  // An empty buffer table of `slots` entries for the kernel to fill (AUTO_BUF_REG). 0 or -errno.
  virtual int register_sparse_buffers(unsigned slots) noexcept = 0;
  // The index of the first file registered, or -errno.
  virtual int register_files(std::span<const int> fds) noexcept = 0;
};

// The real one: a liburing ring with 128-byte SQEs. Make it on the thread that will use it: it
// is set up for one issuer (IORING_SETUP_SINGLE_ISSUER). Throws std::system_error.
std::unique_ptr<QueueRing> make_uring_queue_ring(unsigned entries);

}  // namespace ublk
