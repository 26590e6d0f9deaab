#include "pool/shm_protocol.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace pool::shm {

namespace {
Message of_type(MessageType type) noexcept {
  Message m;
  m.type = static_cast<std::uint16_t>(type);
  return m;
}
std::error_code errno_code() noexcept { return {errno, std::generic_category()}; }
}  // namespace

Message hello() noexcept { return of_type(MessageType::kHello); }

Message arena_request(std::uint64_t bytes, std::uint32_t flags) noexcept {
  Message m = of_type(MessageType::kArenaRequest);
  m.bytes = bytes;
  m.flags = flags;
  return m;
}

Message reply(MessageType type, int status, std::string_view reason) noexcept {
  Message m = of_type(type);
  m.status = status;
  const std::size_t n = std::min(reason.size(), sizeof m.reason - 1);
  if (n > 0) std::memcpy(m.reason, reason.data(), n);  // an empty view may have no data
  return m;
}

std::string reason_of(const Message& message) {
  return {message.reason, strnlen(message.reason, sizeof message.reason)};
}

std::error_code check(const Message& message, MessageType type) noexcept {
  if (message.magic != kMagic) return std::make_error_code(std::errc::protocol_error);
  if (message.version != kVersion) return std::make_error_code(std::errc::protocol_not_supported);
  if (message.type != static_cast<std::uint16_t>(type)) return std::make_error_code(std::errc::protocol_error);
  return {};
}

std::string arena_request_problem(const Message& request) {
  if (request.bytes == 0) return "arena size 0";
  if (request.bytes > kMaxArenaBytes) {
    return "arena size " + std::to_string(request.bytes) + " exceeds the limit of " + std::to_string(kMaxArenaBytes) +
           " bytes";
  }
  if (request.flags & ~kArenaRequestFlags) return "unknown arena flags " + std::to_string(request.flags);
  return {};
}

std::error_code send_message(int socket, const Message& message, int fd) noexcept {
  iovec iov{const_cast<Message*>(&message), sizeof message};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  if (fd >= 0) {
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &fd, sizeof fd);
  }
  for (;;) {
    const ssize_t n = ::sendmsg(socket, &msg, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_code();
    return n == static_cast<ssize_t>(sizeof message) ? std::error_code{} : std::make_error_code(std::errc::protocol_error);
  }
}

std::error_code receive_message(int socket, Message& message, int& fd) noexcept {
  fd = -1;
  iovec iov{&message, sizeof message};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 4)] = {};
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  do {
    n = ::recvmsg(socket, &msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return errno_code();
  // Every fd that came is ours to close; only the first of one SCM_RIGHTS is kept.
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (std::size_t i = 0; i < count; ++i) {
      int got = -1;
      std::memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof got);
      if (fd < 0) {
        fd = got;
      } else {
        ::close(got);
      }
    }
  }
  const auto drop_fd = [&] {
    if (fd >= 0) ::close(fd);
    fd = -1;
  };
  if (n == 0) {
    drop_fd();
    return std::make_error_code(std::errc::connection_reset);
  }
  if (n != static_cast<ssize_t>(sizeof message) || (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
    drop_fd();
    return std::make_error_code(std::errc::protocol_error);
  }
  return {};
}

}  // namespace pool::shm
