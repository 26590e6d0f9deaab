#include "address.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <system_error>

namespace ublk::nbd {

std::string Address::to_string() const {
  if (kind == Kind::kUnix) return "unix:" + path;
  const bool v6 = host.find(':') != std::string::npos;
  return "tcp:" + (v6 ? "[" + host + "]" : host) + ":" + port;
}

std::variant<Address, AddressError> parse_address(std::string_view text) {
  Address a;
  if (text.starts_with("unix:")) {
    a.kind = Address::Kind::kUnix;
    a.path = std::string(text.substr(5));
    if (a.path.empty()) return AddressError{"unix: needs a socket path"};
    if (a.path.size() >= sizeof(sockaddr_un{}.sun_path)) return AddressError{"the socket path is too long"};
    return a;
  }
  if (text.starts_with("tcp:")) {
    std::string_view rest = text.substr(4);
    a.kind = Address::Kind::kTcp;
    std::size_t colon;
    if (rest.starts_with("[")) {
      const auto close = rest.find(']');
      if (close == std::string_view::npos || close + 1 >= rest.size() || rest[close + 1] != ':') {
        return AddressError{"want tcp:[IPV6]:PORT"};
      }
      a.host = std::string(rest.substr(1, close - 1));
      colon = close + 1;
    } else {
      colon = rest.rfind(':');
      if (colon == std::string_view::npos) return AddressError{"want tcp:HOST:PORT"};
      a.host = std::string(rest.substr(0, colon));
    }
    a.port = std::string(rest.substr(colon + 1));
    if (a.host.empty() || a.port.empty()) return AddressError{"want tcp:HOST:PORT"};
    return a;
  }
  return AddressError{"want unix:PATH or tcp:HOST:PORT"};
}

namespace {
[[noreturn]] void fail(int error, const Address& address) {
  throw std::system_error(error, std::generic_category(), "cannot connect to " + address.to_string());
}

void set_step_limit(int fd, std::chrono::milliseconds limit) noexcept {
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(limit).count();
  const timeval tv{static_cast<time_t>(us / 1'000'000), static_cast<suseconds_t>(us % 1'000'000)};
  // SO_SNDTIMEO also bounds a blocking connect().
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}
}  // namespace

void clear_step_limit(int fd) noexcept { set_step_limit(fd, std::chrono::milliseconds{0}); }

void make_transmission_socket(int fd) noexcept {
  if (const int flags = ::fcntl(fd, F_GETFL); flags >= 0 && (flags & O_NONBLOCK)) {
    ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  }
  sockaddr_storage self{};
  socklen_t size = sizeof self;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&self), &size) != 0 || self.ss_family == AF_UNIX) return;
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

std::vector<SocketAddress> resolve(const Address& address) {
  std::vector<SocketAddress> out;
  if (address.kind == Address::Kind::kUnix) {
    sockaddr_un sun{};
    sun.sun_family = AF_UNIX;
    std::memcpy(sun.sun_path, address.path.c_str(), address.path.size() + 1);
    SocketAddress& a = out.emplace_back();
    std::memcpy(&a.storage, &sun, sizeof sun);
    a.length = sizeof sun;
    return out;
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (const int rc = ::getaddrinfo(address.host.c_str(), address.port.c_str(), &hints, &found); rc != 0) {
    throw std::runtime_error("cannot resolve " + address.to_string() + ": " + ::gai_strerror(rc));
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> list(found, &::freeaddrinfo);
  for (addrinfo* ai = found; ai; ai = ai->ai_next) {
    if (ai->ai_addrlen > sizeof(sockaddr_storage)) continue;
    SocketAddress& a = out.emplace_back();
    std::memcpy(&a.storage, ai->ai_addr, ai->ai_addrlen);
    a.length = ai->ai_addrlen;
  }
  return out;
}

UniqueFd connect_to(const Address& address, std::chrono::milliseconds step_limit) {
  int last_error = EHOSTUNREACH;
  for (const SocketAddress& to : resolve(address)) {
    UniqueFd fd(::socket(to.family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) {
      last_error = errno;
      continue;
    }
    if (step_limit.count() > 0) set_step_limit(fd.get(), step_limit);
    if (::connect(fd.get(), to.get(), to.length) < 0) {
      // A connect cut short by the step limit (SO_SNDTIMEO) says EINPROGRESS: it timed out.
      last_error = errno == EINPROGRESS ? ETIMEDOUT : errno;
      continue;
    }
    make_transmission_socket(fd.get());
    return fd;
  }
  fail(last_error, address);
}

bool peer_is_this_host(int fd) noexcept {
  sockaddr_storage peer{}, local{};
  socklen_t peer_size = sizeof peer, local_size = sizeof local;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_size) != 0) return false;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_size) != 0) return false;
  if (peer.ss_family == AF_UNIX) return true;
  if (peer.ss_family == AF_INET && local.ss_family == AF_INET) {
    const auto p = reinterpret_cast<const sockaddr_in&>(peer).sin_addr.s_addr;
    const auto l = reinterpret_cast<const sockaddr_in&>(local).sin_addr.s_addr;
    return (ntohl(p) >> 24) == 127 || p == l;
  }
  if (peer.ss_family == AF_INET6 && local.ss_family == AF_INET6) {
    const in6_addr& p = reinterpret_cast<const sockaddr_in6&>(peer).sin6_addr;
    const in6_addr& l = reinterpret_cast<const sockaddr_in6&>(local).sin6_addr;
    const bool mapped_loopback = IN6_IS_ADDR_V4MAPPED(&p) && p.s6_addr[12] == 127;
    return IN6_IS_ADDR_LOOPBACK(&p) || mapped_loopback || IN6_ARE_ADDR_EQUAL(&p, &l);
  }
  return false;
}

}  // namespace ublk::nbd
