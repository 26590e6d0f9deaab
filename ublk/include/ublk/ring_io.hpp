#pragma once
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <span>

namespace ublk {

// One IO a target queues on its queue's io_uring (see QueueContext::submit). Plain data: the
// queue turns it into an SQE; liburing stays private to the library.
struct RingIo {
  enum class Op : std::uint8_t {
    kRead,        // pread(fd, addr, length, offset)
    kWrite,       // pwrite(fd, addr, length, offset)
    kReadFixed,   // kRead into a registered buffer (Request::fixed_buffer)
    kWriteFixed,  // kWrite from a registered buffer
    kFsync,       // fsync(fd); flags = IORING_FSYNC_DATASYNC (1) for fdatasync
    kFallocate,   // fallocate(fd, flags (mode), offset, length)
    kSend,        // send(fd, addr, length, flags)
    kRecv,        // recv(fd, addr, length, flags)
    kSendmsg,     // sendmsg(fd, msg, flags)
    kSendmsgZc,   // kSendmsg with zero-copy send (IORING_OP_SENDMSG_ZC): completes twice, see sendmsg_zc
    kRecvmsg,     // recvmsg(fd, msg, flags)
    kPoll,        // poll(fd) for the events in flags (POLLIN, ...); the result is the revents
    kConnect,     // connect(fd, addr, length): the address must stay valid until the CQE
  };
  static constexpr std::uint32_t kDataSync = 1;  // kFsync: fdatasync
  // A zero-copy send's notification result (with report_usage): the kernel copied the data after
  // all (IORING_NOTIF_USAGE_ZC_COPIED, e.g. over loopback).
  static constexpr std::uint32_t kZeroCopyCopied = 1U << 31;

  Op op = Op::kRead;
  int fd = -1;              // a file descriptor, or a fixed-file index with fixed_file
  bool fixed_file = false;  // fd is an index of QueueContext::register_files
  bool link = false;        // the next IO of the same submit starts only after this one succeeds
  void* addr = nullptr;
  std::uint32_t length = 0;
  std::uint64_t offset = 0;
  std::uint32_t flags = 0;   // per op: see above
  unsigned buf_index = 0;    // *Fixed: the registered buffer
  msghdr* msg = nullptr;     // kSendmsg, kRecvmsg: must stay valid until the CQE
  // kSendmsgZc: the notification's result says whether the kernel copied (kZeroCopyCopied).
  // Linux 6.2+; an older kernel fails the send with EINVAL.
  bool report_usage = false;

  static RingIo read(int fd, std::span<std::byte> data, std::uint64_t offset) noexcept {
    return {Op::kRead, fd, false, false, data.data(), static_cast<std::uint32_t>(data.size()),
            offset,    0,  0,     nullptr, false};
  }
  static RingIo write(int fd, std::span<const std::byte> data, std::uint64_t offset) noexcept {
    return {Op::kWrite, fd, false, false, const_cast<std::byte*>(data.data()),
            static_cast<std::uint32_t>(data.size()), offset, 0, 0, nullptr, false};
  }
  static RingIo read_fixed(int fd, std::span<std::byte> data, std::uint64_t offset, unsigned index) noexcept {
    RingIo io = read(fd, data, offset);
    io.op = Op::kReadFixed;
    io.buf_index = index;
    return io;
  }
  static RingIo write_fixed(int fd, std::span<const std::byte> data, std::uint64_t offset, unsigned index) noexcept {
    RingIo io = write(fd, data, offset);
    io.op = Op::kWriteFixed;
    io.buf_index = index;
    return io;
  }
  // kReadFixed / kWriteFixed on a request's registered pages (Request::registered_pages): the
  // address is the byte offset into the request, as io_uring addresses a kernel-registered buffer.
  static RingIo read_registered(int fd, unsigned index, std::uint32_t from, std::uint32_t length,
                                std::uint64_t offset) noexcept {
    RingIo io;
    io.op = Op::kReadFixed;
    io.fd = fd;
    io.addr = reinterpret_cast<void*>(static_cast<std::uintptr_t>(from));
    io.length = length;
    io.offset = offset;
    io.buf_index = index;
    return io;
  }
  static RingIo write_registered(int fd, unsigned index, std::uint32_t from, std::uint32_t length,
                                 std::uint64_t offset) noexcept {
    RingIo io = read_registered(fd, index, from, length, offset);
    io.op = Op::kWriteFixed;
    return io;
  }
  static RingIo fdatasync(int fd) noexcept {
    RingIo io;
    io.op = Op::kFsync;
    io.fd = fd;
    io.flags = kDataSync;
    return io;
  }
  static RingIo fallocate(int fd, int mode, std::uint64_t offset, std::uint64_t length) noexcept {
    RingIo io;
    io.op = Op::kFallocate;
    io.fd = fd;
    io.flags = static_cast<std::uint32_t>(mode);
    io.offset = offset;
    io.addr = reinterpret_cast<void*>(static_cast<std::uintptr_t>(length));  // io_uring's own encoding
    return io;
  }
  static RingIo send(int fd, std::span<const std::byte> data, int flags = 0) noexcept {
    RingIo io = write(fd, data, 0);
    io.op = Op::kSend;
    io.flags = static_cast<std::uint32_t>(flags);
    return io;
  }
  static RingIo recv(int fd, std::span<std::byte> data, int flags = 0) noexcept {
    RingIo io = read(fd, data, 0);
    io.op = Op::kRecv;
    io.flags = static_cast<std::uint32_t>(flags);
    return io;
  }
  static RingIo sendmsg(int fd, msghdr* msg, int flags = 0) noexcept {
    RingIo io;
    io.op = Op::kSendmsg;
    io.fd = fd;
    io.msg = msg;
    io.flags = static_cast<std::uint32_t>(flags);
    return io;
  }
  // Zero-copy sendmsg: the kernel sends from the pages of msg's iovecs. Its first CQE
  // (Target::on_io_complete) is the send's result; the pages, and the iovecs' memory, must stay
  // untouched until Target::on_io_notification for the same cookie, which follows exactly once.
  // A socket that cannot (a unix socket, an old kernel) fails it with EOPNOTSUPP (or EINVAL).
  static RingIo sendmsg_zc(int fd, msghdr* msg, int flags = 0, bool report_usage = false) noexcept {
    RingIo io = sendmsg(fd, msg, flags);
    io.op = Op::kSendmsgZc;
    io.report_usage = report_usage;
    return io;
  }
  static RingIo recvmsg(int fd, msghdr* msg, int flags = 0) noexcept {
    RingIo io = sendmsg(fd, msg, flags);
    io.op = Op::kRecvmsg;
    return io;
  }
  static RingIo poll(int fd, unsigned events) noexcept {
    RingIo io;
    io.op = Op::kPoll;
    io.fd = fd;
    io.flags = events;
    return io;
  }
  // On a non-blocking socket the ring waits for the connection to be made (or refused).
  static RingIo connect(int fd, const sockaddr* address, socklen_t length) noexcept {
    RingIo io;
    io.op = Op::kConnect;
    io.fd = fd;
    io.addr = const_cast<sockaddr*>(address);
    io.length = length;
    return io;
  }
};

}  // namespace ublk
