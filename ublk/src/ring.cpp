#include "ring.hpp"

#include <cerrno>
#include <cstring>
#include <system_error>

namespace ublk {

Ring::Ring(unsigned entries, unsigned setup_flags) {
  io_uring_params params{};
  params.flags = IORING_SETUP_SQE128 | setup_flags;
  int ret = io_uring_queue_init_params(entries, &ring_, &params);
  if (ret == -EINVAL && setup_flags != 0) {
    params = io_uring_params{};
    params.flags = IORING_SETUP_SQE128;
    ret = io_uring_queue_init_params(entries, &ring_, &params);
  }
  if (ret < 0) throw std::system_error(-ret, std::generic_category(), "io_uring_queue_init (SQE128)");
}

Ring::~Ring() { io_uring_queue_exit(&ring_); }

io_uring_sqe* Ring::sqe() {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  if (!sqe) {
    io_uring_submit(&ring_);
    sqe = io_uring_get_sqe(&ring_);
  }
  if (!sqe) throw std::system_error(EBUSY, std::generic_category(), "io_uring: no free SQE");
  std::memset(static_cast<void*>(sqe), 0, 2 * sizeof(io_uring_sqe));  // SQE128: two slots
  return sqe;
}

io_uring_sqe* Ring::uring_cmd(int fd, std::uint32_t cmd_op, std::uint64_t user_data) {
  io_uring_sqe* s = sqe();
  s->opcode = IORING_OP_URING_CMD;
  s->fd = fd;
  s->cmd_op = cmd_op;
  s->user_data = user_data;
  return s;
}

int Ring::submit() noexcept { return io_uring_submit(&ring_); }
int Ring::submit_and_wait(unsigned nr) noexcept { return io_uring_submit_and_wait(&ring_, nr); }
unsigned Ring::pending_sqes() noexcept { return io_uring_sq_ready(&ring_); }

}  // namespace ublk
