#include "pool/shm_protocol.hpp"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

namespace shm = pool::shm;

namespace {

struct SocketPair {
  SocketPair() { EXPECT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds), 0); }
  ~SocketPair() {
    for (int fd : fds) {
      if (fd >= 0) ::close(fd);
    }
  }
  int fds[2] = {-1, -1};
};

TEST(ShmProtocol, AMessageAndItsFdArriveTogether) {
  SocketPair pair;
  const int memfd = ::memfd_create("test", MFD_CLOEXEC);
  ASSERT_GE(memfd, 0);
  ASSERT_EQ(::ftruncate(memfd, 8192), 0);
  shm::Message sent = shm::reply(shm::MessageType::kArenaReply, 0);
  sent.index = 7;
  sent.bytes = 8192;
  ASSERT_FALSE(shm::send_message(pair.fds[0], sent, memfd));
  shm::Message got;
  int fd = -1;
  ASSERT_FALSE(shm::receive_message(pair.fds[1], got, fd));
  ASSERT_GE(fd, 0);
  EXPECT_FALSE(shm::check(got, shm::MessageType::kArenaReply));
  EXPECT_EQ(got.index, 7u);
  EXPECT_EQ(got.bytes, 8192u);
  struct stat a {}, b {};
  ASSERT_EQ(::fstat(memfd, &a), 0);
  ASSERT_EQ(::fstat(fd, &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);  // the same memory
  ::close(fd);
  ::close(memfd);
}

TEST(ShmProtocol, CheckTellsAnotherMagicTypeAndVersionApart) {
  shm::Message m = shm::hello();
  EXPECT_FALSE(shm::check(m, shm::MessageType::kHello));
  EXPECT_EQ(shm::check(m, shm::MessageType::kArenaRequest), std::errc::protocol_error);
  m.version = 99;
  EXPECT_EQ(shm::check(m, shm::MessageType::kHello), std::errc::protocol_not_supported);
  m = shm::hello();
  m.magic = 0;
  EXPECT_EQ(shm::check(m, shm::MessageType::kHello), std::errc::protocol_error);
}

TEST(ShmProtocol, ArenaRequestsOutsideTheLimitsAreNamed) {
  EXPECT_EQ(shm::arena_request_problem(shm::arena_request(2 << 20, 0)), "");
  EXPECT_EQ(shm::arena_request_problem(shm::arena_request(4096, shm::kArenaReadOnly)), "");
  EXPECT_EQ(shm::arena_request_problem(shm::arena_request(0, 0)), "arena size 0");
  EXPECT_NE(shm::arena_request_problem(shm::arena_request(shm::kMaxArenaBytes + 1, 0)).find("exceeds the limit"),
            std::string::npos);
  EXPECT_NE(shm::arena_request_problem(shm::arena_request(4096, 1U << 7)).find("unknown arena flags"),
            std::string::npos);
}

TEST(ShmProtocol, AReasonIsCutToFitAndStaysTerminated) {
  const std::string long_reason(300, 'x');
  const shm::Message m = shm::reply(shm::MessageType::kHelloReply, -EINVAL, long_reason);
  EXPECT_EQ(m.status, -EINVAL);
  EXPECT_EQ(shm::reason_of(m), std::string(sizeof m.reason - 1, 'x'));
}

TEST(ShmProtocol, APeerGoneOrAShortPacketIsAnError) {
  {
    SocketPair pair;
    const char shortish[10] = {};
    ASSERT_EQ(::send(pair.fds[0], shortish, sizeof shortish, 0), 10);
    shm::Message got;
    int fd = -1;
    EXPECT_EQ(shm::receive_message(pair.fds[1], got, fd), std::errc::protocol_error);
    EXPECT_EQ(fd, -1);
  }
  SocketPair pair;
  ::close(pair.fds[0]);
  pair.fds[0] = -1;
  shm::Message got;
  int fd = -1;
  EXPECT_EQ(shm::receive_message(pair.fds[1], got, fd), std::errc::connection_reset);
}

}  // namespace
