#include <liburing.h>

#include <cerrno>
#include <cstring>
#include <system_error>
#include <vector>

#include "queue_ring.hpp"
#include "ring.hpp"

namespace ublk {

namespace {

// A queue's ring is used by its own thread only, which always waits in io_uring_enter for what
// it reaps. So the kernel may run the ring's completion work (ublk commands, socket IO) then, in
// one batch, instead of interrupting the thread for each: the setup the kernel's own ublk
// server uses. Kernels before 6.1 refuse DEFER_TASKRUN and get a plain ring.
constexpr unsigned kQueueRingSetup = IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
// IORING_SEND_ZC_REPORT_USAGE (Linux 6.2): liburing 2.3's own io_uring.h predates it.
constexpr std::uint16_t kSendZcReportUsage = 1U << 3;
static_assert(Cqe::kMore == IORING_CQE_F_MORE && Cqe::kNotification == IORING_CQE_F_NOTIF);
static_assert(RingIo::kZeroCopyCopied == 1U << 31, "IORING_NOTIF_USAGE_ZC_COPIED");

class UringQueueRing final : public QueueRing {
 public:
  explicit UringQueueRing(unsigned entries)
      : ring_(entries, kQueueRingSetup), capacity_(ring_.raw()->sq.ring_entries) {}

  std::error_code ublk_command(int char_fd, std::uint32_t cmd_op, const ublksrv_io_cmd& cmd, std::uint64_t sqe_addr,
                               std::uint64_t user_data) noexcept override {
    close_link();
    io_uring_sqe* sqe = next_sqe();
    if (!sqe) return std::make_error_code(std::errc::device_or_resource_busy);
    sqe->opcode = IORING_OP_URING_CMD;
    sqe->fd = char_fd;
    sqe->cmd_op = cmd_op;
    sqe->addr = sqe_addr;
    sqe->user_data = user_data;
    *Ring::cmd_area<ublksrv_io_cmd>(sqe) = cmd;

    return {};
  }

  std::error_code target_io(const RingIo& io, std::uint64_t user_data) noexcept override {
    if (ring_.pending_sqes() + 1 >= capacity_) close_link();  // the SQ is full: a submit comes first
    io_uring_sqe* sqe = next_sqe();
    if (!sqe) return std::make_error_code(std::errc::device_or_resource_busy);
    using Op = RingIo::Op;
    switch (io.op) {
      case Op::kRead: io_uring_prep_read(sqe, io.fd, io.addr, io.length, io.offset); break;
      case Op::kWrite: io_uring_prep_write(sqe, io.fd, io.addr, io.length, io.offset); break;
      case Op::kReadFixed:
        io_uring_prep_read_fixed(sqe, io.fd, io.addr, io.length, io.offset, static_cast<int>(io.buf_index));
        break;
      case Op::kWriteFixed:
        io_uring_prep_write_fixed(sqe, io.fd, io.addr, io.length, io.offset, static_cast<int>(io.buf_index));
        break;
      case Op::kFsync: io_uring_prep_fsync(sqe, io.fd, io.flags); break;
      case Op::kFallocate:
        io_uring_prep_fallocate(sqe, io.fd, static_cast<int>(io.flags), static_cast<off_t>(io.offset),
                                static_cast<off_t>(reinterpret_cast<std::uintptr_t>(io.addr)));
        break;
      case Op::kSend: io_uring_prep_send(sqe, io.fd, io.addr, io.length, static_cast<int>(io.flags)); break;
      case Op::kRecv: io_uring_prep_recv(sqe, io.fd, io.addr, io.length, static_cast<int>(io.flags)); break;
      case Op::kSendmsg: io_uring_prep_sendmsg(sqe, io.fd, io.msg, io.flags); break;
      case Op::kSendmsgZc:
        io_uring_prep_sendmsg_zc(sqe, io.fd, io.msg, io.flags);
        if (io.report_usage) sqe->ioprio |= kSendZcReportUsage;
        break;
      case Op::kRecvmsg: io_uring_prep_recvmsg(sqe, io.fd, io.msg, io.flags); break;
      case Op::kPoll: io_uring_prep_poll_add(sqe, io.fd, io.flags); break;
      case Op::kConnect: io_uring_prep_connect(sqe, io.fd, static_cast<const sockaddr*>(io.addr), io.length); break;
    }
    if (io.fixed_file) sqe->flags |= IOSQE_FIXED_FILE;
    open_link_ = nullptr;
    if (io.link) {
      sqe->flags |= IOSQE_IO_LINK;
      open_link_ = sqe;
    }
    sqe->user_data = user_data;
    return {};
  }

  std::error_code read_eventfd(int fd, std::uint64_t* value, std::uint64_t user_data) noexcept override {
    close_link();
    io_uring_sqe* sqe = next_sqe();
    if (!sqe) return std::make_error_code(std::errc::device_or_resource_busy);
    io_uring_prep_read(sqe, fd, value, sizeof *value, 0);
    sqe->user_data = user_data;
    return {};
  }

  std::error_code timeout(std::chrono::nanoseconds after, std::uint64_t user_data) noexcept override {
    close_link();
    io_uring_sqe* sqe = next_sqe();
    if (!sqe) return std::make_error_code(std::errc::device_or_resource_busy);
    // The kernel reads the timespec at submit; one timer at a time, so one slot.
    timeout_.tv_sec = after.count() / 1'000'000'000;
    timeout_.tv_nsec = after.count() % 1'000'000'000;
    io_uring_prep_timeout(sqe, &timeout_, 0, 0);
    sqe->user_data = user_data;
    return {};
  }

  int submit() noexcept override {
    open_link_ = nullptr;
    return ring_.submit();
  }
  int submit_and_wait(unsigned nr) noexcept override {
    open_link_ = nullptr;
    return ring_.submit_and_wait(nr);
  }
  unsigned pending_sqes() noexcept override { return ring_.pending_sqes(); }
  void reap(std::vector<Cqe>& out) override {
    ring_.for_each_cqe([&out](const io_uring_cqe& cqe) { out.push_back({cqe.user_data, cqe.res, cqe.flags}); });
  }
  int register_buffers(std::span<const iovec> buffers) noexcept override {
    return io_uring_register_buffers(ring_.raw(), buffers.data(), static_cast<unsigned>(buffers.size()));
  }
  int register_sparse_buffers(unsigned slots) noexcept override {
    return io_uring_register_buffers_sparse(ring_.raw(), slots);
  }
  int register_files(std::span<const int> fds) noexcept override {
    // One table per ring: the first registration sets it up, later ones are appended.
    std::vector<int> all;
    try {
      all = files_;
      all.insert(all.end(), fds.begin(), fds.end());
    } catch (...) {
      return -ENOMEM;
    }
    if (!files_.empty()) io_uring_unregister_files(ring_.raw());
    const int ret = io_uring_register_files(ring_.raw(), all.data(), static_cast<unsigned>(all.size()));
    if (ret < 0) {
      if (!files_.empty()) io_uring_register_files(ring_.raw(), files_.data(), static_cast<unsigned>(files_.size()));
      return ret;
    }
    const int first = static_cast<int>(files_.size());
    files_ = std::move(all);
    return first;
  }

 private:
  // Only a target's IO links to the next SQE. A ublk command must never run linked behind one: it
  // would be punted to io-wq, and the READ release point after submit (GetDataStrategy) relies
  // on inline handling.
  void close_link() noexcept {
    if (open_link_) open_link_->flags &= static_cast<__u8>(~IOSQE_IO_LINK);
    open_link_ = nullptr;
  }
  io_uring_sqe* next_sqe() noexcept {
    try {
      return ring_.sqe();
    } catch (const std::system_error&) {
      return nullptr;
    }
  }

  Ring ring_;
  unsigned capacity_;
  io_uring_sqe* open_link_ = nullptr;  // the last SQE, if it links to the next one
  __kernel_timespec timeout_{};
  std::vector<int> files_;
};

}  // namespace

std::unique_ptr<QueueRing> make_uring_queue_ring(unsigned entries) { return std::make_unique<UringQueueRing>(entries); }

}  // namespace ublk
