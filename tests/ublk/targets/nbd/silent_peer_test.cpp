#include "nbd/silent_peer.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "ublk/unique_fd.hpp"

namespace ublk::nbd {
namespace {

int option(int fd, int level, int name) {
  int value = -1;
  socklen_t size = sizeof value;
  EXPECT_EQ(::getsockopt(fd, level, name, &value, &size), 0);
  return value;
}

TEST(NbdSilentPeer, ATcpConnectionGivesUpASilentServerWithinTheLimit) {
  UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof sin;
  ASSERT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&sin), sizeof sin), 0);
  ASSERT_EQ(::listen(listener.get(), 1), 0);
  ASSERT_EQ(::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&sin), &length), 0);
  UniqueFd client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_EQ(::connect(client.get(), reinterpret_cast<sockaddr*>(&sin), sizeof sin), 0);

  limit_silent_peer(client.get());
  EXPECT_EQ(option(client.get(), SOL_SOCKET, SO_KEEPALIVE), 1);
  EXPECT_EQ(option(client.get(), IPPROTO_TCP, TCP_USER_TIMEOUT), std::chrono::milliseconds(kSilentPeerLimit).count());
  // Probes begin well within the limit, so that a connection with only replies awaited (all its
  // data acknowledged) is tested too.
  EXPECT_LT(option(client.get(), IPPROTO_TCP, TCP_KEEPIDLE), kSilentPeerLimit.count());
}

TEST(NbdSilentPeer, AUnixSocketIsLeftAlone) {
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  UniqueFd a(fds[0]), b(fds[1]);
  limit_silent_peer(a.get());
  EXPECT_EQ(option(a.get(), SOL_SOCKET, SO_KEEPALIVE), 0);
}

}  // namespace
}  // namespace ublk::nbd
