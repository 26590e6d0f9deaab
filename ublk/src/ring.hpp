#pragma once
#include <liburing.h>

#include <cstdint>
#include <span>

namespace ublk {

// One io_uring with 128-byte SQEs (ublk commands live in the SQE's cmd area). Not thread-safe:
// a ring belongs to one thread.
class Ring {
 public:
  // `setup_flags`: IORING_SETUP_* asked for beside SQE128; a kernel that refuses them (EINVAL)
  // gets a ring without them. Throws std::system_error.
  explicit Ring(unsigned entries, unsigned setup_flags = 0);
  ~Ring();
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;

  // A zeroed SQE; submits first when the SQ is full. Throws if there is still none.
  io_uring_sqe* sqe();
  // A zeroed IORING_OP_URING_CMD SQE for `fd` and `cmd_op`; the payload goes to cmd_area().
  io_uring_sqe* uring_cmd(int fd, std::uint32_t cmd_op, std::uint64_t user_data);
  template <class T>
  static T* cmd_area(io_uring_sqe* sqe) noexcept {
    static_assert(sizeof(T) <= 80, "the ublk payload must fit in a 128-byte SQE's cmd area");
    return reinterpret_cast<T*>(sqe->cmd);
  }

  // Returns io_uring_submit's result (negative errno on failure).
  int submit() noexcept;
  int submit_and_wait(unsigned nr) noexcept;
  [[nodiscard]] unsigned pending_sqes() noexcept;

  // Calls fn(cqe) for every ready CQE and marks them seen. Returns how many.
  template <class Fn>
  unsigned for_each_cqe(Fn&& fn) {
    unsigned head;
    unsigned count = 0;
    io_uring_cqe* cqe;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      fn(*cqe);
      ++count;
    }
    io_uring_cq_advance(&ring_, count);
    return count;
  }

  io_uring* raw() noexcept { return &ring_; }

 private:
  io_uring ring_{};
};

}  // namespace ublk
