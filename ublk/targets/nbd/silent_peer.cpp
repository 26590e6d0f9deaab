#include "silent_peer.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

namespace ublk::nbd {

void limit_silent_peer(int fd) noexcept {
  sockaddr_storage peer{};
  socklen_t size = sizeof peer;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &size) != 0) return;
  if (peer.ss_family != AF_INET && peer.ss_family != AF_INET6) return;
  const int on = 1;
  const auto limit_ms = static_cast<unsigned>(std::chrono::milliseconds(kSilentPeerLimit).count());
  // Probes start after a third of the limit without traffic; the user timeout, not the probe
  // count, then decides when the connection is dead.
  const int idle = static_cast<int>(kSilentPeerLimit.count() / 3);
  const int interval = 1;
  const int count = static_cast<int>(kSilentPeerLimit.count());
  ::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count);
  ::setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &limit_ms, sizeof limit_ms);
}

}  // namespace ublk::nbd
