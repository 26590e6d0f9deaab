#include "nbd/negotiation.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <thread>

#include "fake_server.hpp"
#include "nbd/address.hpp"
#include "nbd/reply_reader.hpp"

namespace ublk::nbd {
namespace {

using testing::FakeExport;

// Runs the fake server's handshake on one end of a socketpair and the client's on the other.
struct Pair {
  UniqueFd client, server;
  Pair() {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) throw std::runtime_error("socketpair");
    client.reset(fds[0]);
    server.reset(fds[1]);
  }
};

struct Outcome {
  std::optional<bool> server_structured;
  Export client;
  std::optional<NegotiationError::Kind> error;
  std::string message;
};

// A channel that suspends the handshake at every step, as the queue's ring does, and moves one
// byte per step: the coroutine must resume correctly from each, and loop over partial steps.
class OneByteSteps final : public HandshakeChannel {
 public:
  explicit OneByteSteps(int fd) noexcept : fd_(fd) {}
  // Does the step the handshake waits for and resumes it; false when it waits for none.
  bool step() {
    if (!waiting_) return false;
    const auto bytes = pending_->bytes().first(std::min<std::size_t>(1, pending_->bytes().size()));
    const ssize_t n = pending_->sending() ? ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL)
                                          : ::recv(fd_, bytes.data(), bytes.size(), 0);
    pending_->finish(n < 0 ? -errno : static_cast<int>(n));
    ++steps;
    std::exchange(waiting_, {}).resume();
    return true;
  }
  unsigned steps = 0;

 private:
  bool start(Step& step, std::coroutine_handle<> waiting) noexcept override {
    pending_ = &step;
    waiting_ = waiting;
    return true;
  }
  int fd_;
  Step* pending_ = nullptr;
  std::coroutine_handle<> waiting_;
};

Export one_byte_steps(int fd, std::string_view name) {
  OneByteSteps io(fd);
  Task<Export> task = nbd::handshake(io, name);
  task.run();
  EXPECT_FALSE(task.done()) << "the first step did not suspend the handshake";
  while (io.step()) {
  }
  EXPECT_GE(io.steps, 16U) << "the greeting, one byte per step";
  return task.result();
}

enum class Driver : std::uint8_t { kBlocking, kOneByteSteps };

Outcome handshake(const FakeExport& ex, std::string_view name, Driver driver = Driver::kBlocking) {
  Pair p;
  Outcome out;
  std::thread server([&] {
    out.server_structured = testing::serve_handshake(p.server.get(), ex);
    p.server.reset();  // hang up, as a server does after a failed handshake
  });
  try {
    out.client = driver == Driver::kBlocking ? negotiate(p.client.get(), name) : one_byte_steps(p.client.get(), name);
  } catch (const NegotiationError& e) {
    out.error = e.kind();
    out.message = e.what();
  }
  p.client.reset();
  server.join();
  return out;
}

TEST(NbdNegotiation, GoWithStructuredRepliesAndBlockSize) {
  FakeExport ex;
  ex.name = "disk";
  ex.size = 5ULL << 30;
  ex.block = {4096, 4096, 1U << 20};
  const Outcome o = handshake(ex, "disk");
  ASSERT_FALSE(o.error) << o.message;
  EXPECT_EQ(o.server_structured, std::optional<bool>(true));
  EXPECT_TRUE(o.client.structured_replies);
  EXPECT_TRUE(o.client.used_go);
  EXPECT_EQ(o.client.size, 5ULL << 30);
  EXPECT_EQ(o.client.flags, ex.flags);
  EXPECT_TRUE(o.client.has(tflag::kCanMultiConn));
  EXPECT_FALSE(o.client.read_only());
  EXPECT_EQ(o.client.block.minimum, 4096U);
  EXPECT_EQ(o.client.block.maximum, 1U << 20);
}

TEST(NbdNegotiation, NoBlockSizeInfoKeepsTheDefaults) {
  FakeExport ex;
  ex.send_block_size = false;
  const Outcome o = handshake(ex, "");
  ASSERT_FALSE(o.error) << o.message;
  EXPECT_EQ(o.client.block.minimum, 1U);
  EXPECT_EQ(o.client.block.maximum, 32U << 20);
}

TEST(NbdNegotiation, ServerWithoutStructuredReplies) {
  FakeExport ex;
  ex.offer_structured = false;
  ex.flags = tflag::kHasFlags | tflag::kReadOnly;
  const Outcome o = handshake(ex, "");
  ASSERT_FALSE(o.error) << o.message;
  EXPECT_FALSE(o.client.structured_replies);
  EXPECT_EQ(o.server_structured, std::optional<bool>(false));
  EXPECT_TRUE(o.client.read_only());
  EXPECT_FALSE(o.client.has(tflag::kSendFlush));
}

TEST(NbdNegotiation, OldServerWithoutGoFallsBackToExportName) {
  FakeExport ex;
  ex.name = "old";
  ex.know_go = false;
  ex.size = 12345 * 512;
  const Outcome o = handshake(ex, "old");
  ASSERT_FALSE(o.error) << o.message;
  EXPECT_FALSE(o.client.used_go);
  EXPECT_TRUE(o.client.structured_replies);  // agreed before GO was tried
  EXPECT_EQ(o.client.size, 12345U * 512);
  EXPECT_EQ(o.client.flags, ex.flags);
}

TEST(NbdNegotiation, PlainNewstyleServerGetsExportNameOnly) {
  FakeExport ex;
  ex.fixed_newstyle = false;
  const Outcome o = handshake(ex, "");
  ASSERT_FALSE(o.error) << o.message;
  EXPECT_FALSE(o.client.used_go);
  EXPECT_FALSE(o.client.structured_replies);
  EXPECT_EQ(o.client.size, ex.size);
}

TEST(NbdNegotiation, UnknownExportIsNamed) {
  FakeExport ex;
  ex.name = "real";
  const Outcome o = handshake(ex, "other");
  ASSERT_TRUE(o.error);
  EXPECT_EQ(*o.error, NegotiationError::Kind::kUnknownExport);
  EXPECT_NE(o.message.find("'other'"), std::string::npos) << o.message;
}

TEST(NbdNegotiation, UnknownExportOnAnOldServer) {
  FakeExport ex;
  ex.name = "real";
  ex.know_go = false;
  const Outcome o = handshake(ex, "other");
  ASSERT_TRUE(o.error);
  EXPECT_EQ(*o.error, NegotiationError::Kind::kUnknownExport);
}

TEST(NbdNegotiation, TlsOnlyServerIsRefusedClearly) {
  FakeExport ex;
  ex.tls_only = true;
  const Outcome o = handshake(ex, "");
  ASSERT_TRUE(o.error);
  EXPECT_EQ(*o.error, NegotiationError::Kind::kTlsRequired);
  EXPECT_NE(o.message.find("TLS"), std::string::npos) << o.message;
}

TEST(NbdNegotiation, OldstyleServerIsRefused) {
  FakeExport ex;
  ex.oldstyle = true;
  const Outcome o = handshake(ex, "");
  ASSERT_TRUE(o.error);
  EXPECT_EQ(*o.error, NegotiationError::Kind::kNotNbd);
  EXPECT_NE(o.message.find("oldstyle"), std::string::npos) << o.message;
}

TEST(NbdNegotiation, NotAnNbdServer) {
  Pair p;
  const char junk[] = "SSH-2.0-OpenSSH_9.2\r\n";
  ASSERT_EQ(::write(p.server.get(), junk, sizeof junk - 1), static_cast<ssize_t>(sizeof junk - 1));
  try {
    negotiate(p.client.get(), "");
    FAIL() << "negotiated with a non-NBD peer";
  } catch (const NegotiationError& e) {
    EXPECT_EQ(e.kind(), NegotiationError::Kind::kNotNbd);
  }
}

// The handshake coroutine suspended at every step, one byte per step, ends as the blocking
// negotiate() does, for every kind of server above.
TEST(NbdNegotiation, SuspendedAtEveryStepTheHandshakeEndsTheSame) {
  std::vector<std::pair<FakeExport, std::string>> servers;
  FakeExport ex;
  ex.name = "disk";
  ex.block = {4096, 4096, 1U << 20};
  servers.emplace_back(ex, "disk");
  ex.send_block_size = false;
  servers.emplace_back(ex, "disk");
  ex.offer_structured = false;
  ex.flags = tflag::kHasFlags | tflag::kReadOnly;
  servers.emplace_back(ex, "disk");
  FakeExport old;
  old.name = "old";
  old.know_go = false;
  servers.emplace_back(old, "old");
  servers.emplace_back(old, "other");
  FakeExport plain;
  plain.fixed_newstyle = false;
  servers.emplace_back(plain, "");
  servers.emplace_back(ex, "other");
  FakeExport tls;
  tls.tls_only = true;
  servers.emplace_back(tls, "");
  FakeExport oldstyle;
  oldstyle.oldstyle = true;
  servers.emplace_back(oldstyle, "");
  for (const auto& [server, name] : servers) {
    const Outcome blocking = handshake(server, name);
    const Outcome stepped = handshake(server, name, Driver::kOneByteSteps);
    SCOPED_TRACE(blocking.message);
    EXPECT_EQ(stepped.error, blocking.error);
    EXPECT_EQ(stepped.message, blocking.message);
    EXPECT_EQ(stepped.server_structured, blocking.server_structured);
    EXPECT_EQ(stepped.client.size, blocking.client.size);
    EXPECT_EQ(stepped.client.flags, blocking.client.flags);
    EXPECT_EQ(stepped.client.block.minimum, blocking.client.block.minimum);
    EXPECT_EQ(stepped.client.block.preferred, blocking.client.block.preferred);
    EXPECT_EQ(stepped.client.block.maximum, blocking.client.block.maximum);
    EXPECT_EQ(stepped.client.structured_replies, blocking.client.structured_replies);
    EXPECT_EQ(stepped.client.used_go, blocking.client.used_go);
  }
}

TEST(NbdAddress, Parsing) {
  auto a = std::get<Address>(parse_address("unix:/run/nbd.sock"));
  EXPECT_EQ(a.kind, Address::Kind::kUnix);
  EXPECT_EQ(a.path, "/run/nbd.sock");
  auto t = std::get<Address>(parse_address("tcp:storage.example:10809"));
  EXPECT_EQ(t.kind, Address::Kind::kTcp);
  EXPECT_EQ(t.host, "storage.example");
  EXPECT_EQ(t.port, "10809");
  auto v6 = std::get<Address>(parse_address("tcp:[::1]:10809"));
  EXPECT_EQ(v6.host, "::1");
  EXPECT_EQ(v6.to_string(), "tcp:[::1]:10809");
  for (const char* bad : {"", "unix:", "tcp:host", "tcp::10809", "tcp:host:", "nbd://x", "tcp:[::1]10809"}) {
    EXPECT_TRUE(std::holds_alternative<AddressError>(parse_address(bad))) << bad;
  }
}

TEST(NbdAddress, ConnectFailureNamesTheAddress) {
  const auto a = std::get<Address>(parse_address("unix:/nonexistent/ublk-pool-nbd.sock"));
  try {
    connect_to(a);
    FAIL();
  } catch (const std::system_error& e) {
    EXPECT_NE(std::string(e.what()).find("unix:/nonexistent/ublk-pool-nbd.sock"), std::string::npos);
  }
}

TEST(NbdAddress, APeerOnThisHostIsRecognised) {
  int pair[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
  UniqueFd a(pair[0]), b(pair[1]);
  EXPECT_TRUE(peer_is_this_host(a.get()));

  UniqueFd listener(::socket(AF_INET, SOCK_STREAM, 0));
  sockaddr_in at{};
  at.sin_family = AF_INET;
  at.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&at), sizeof at), 0);
  ASSERT_EQ(::listen(listener.get(), 1), 0);
  socklen_t size = sizeof at;
  ASSERT_EQ(::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&at), &size), 0);
  const auto port = std::to_string(ntohs(at.sin_port));
  UniqueFd tcp = connect_to(std::get<Address>(parse_address("tcp:127.0.0.1:" + port)));
  EXPECT_TRUE(peer_is_this_host(tcp.get()));

  UniqueFd unconnected(::socket(AF_INET, SOCK_STREAM, 0));
  EXPECT_FALSE(peer_is_this_host(unconnected.get())) << "no peer: not this host";
}

// ---- against a real server: nbdkit's memory plugin on a unix socket ----

std::optional<std::string> find_nbdkit() {
  for (const char* dir : {"/usr/sbin", "/usr/bin", "/usr/local/bin", "/usr/local/sbin"}) {
    const std::string path = std::string(dir) + "/nbdkit";
    if (::access(path.c_str(), X_OK) == 0) return path;
  }
  return std::nullopt;
}

class Nbdkit : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto nbdkit = find_nbdkit();
    if (!nbdkit) GTEST_SKIP() << "nbdkit is not installed (scripts/setup.sh installs it)";
    char tmpl[] = "/tmp/ublk-nbd-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    socket_ = dir_ + "/nbd.sock";
    pid_ = ::fork();
    ASSERT_GE(pid_, 0);
    if (pid_ == 0) {
      ::execl(nbdkit->c_str(), "nbdkit", "-f", "-U", socket_.c_str(), "memory", "64M", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    for (int i = 0; i < 500 && !std::filesystem::exists(socket_); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_TRUE(std::filesystem::exists(socket_)) << "nbdkit did not create " << socket_;
  }
  void TearDown() override {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  UniqueFd connect() { return connect_to(std::get<Address>(parse_address("unix:" + socket_))); }

  std::string dir_, socket_;
  pid_t pid_ = -1;
};

void send_all(int fd, std::span<const std::byte> b) {
  ASSERT_EQ(::send(fd, b.data(), b.size(), MSG_NOSIGNAL), static_cast<ssize_t>(b.size()));
}

class OneRequest final : public ReplyLookup {
 public:
  PendingReply reply;
  std::uint64_t cookie = 0;
  PendingReply* find(std::uint64_t c) noexcept override { return c == cookie ? &reply : nullptr; }
};

ReplyEvent wait_reply(int fd, ReplyReader& reader, OneRequest& table) {
  for (;;) {
    auto want = reader.want();
    const ssize_t n = ::recv(fd, want.data(), want.size(), 0);
    if (n <= 0) return {ReplyEvent::Kind::kBroken, 0, 0, "connection closed"};
    ReplyEvent e = reader.received(static_cast<std::size_t>(n), table);
    if (e.kind != ReplyEvent::Kind::kMore) return e;
  }
}

TEST_F(Nbdkit, NegotiatesAndMovesData) {
  UniqueFd fd = connect();
  const Export ex = negotiate(fd.get(), "");
  EXPECT_EQ(ex.size, 64ULL << 20);
  EXPECT_TRUE(ex.used_go);
  EXPECT_TRUE(ex.structured_replies);
  EXPECT_FALSE(ex.read_only());
  EXPECT_TRUE(ex.has(tflag::kSendFlush));

  // A WRITE (header + payload), then a READ of the same range and of a never-written one.
  std::vector<std::byte> data(8192);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::byte>(i * 13);
  ReplyReader reader(ex.structured_replies);
  OneRequest table;
  table.cookie = 1;
  table.reply.command = Command::kWrite;
  send_all(fd.get(), encode_request({0, Command::kWrite, 1, 1 << 20, 8192}));
  send_all(fd.get(), data);
  ReplyEvent e = wait_reply(fd.get(), reader, table);
  ASSERT_EQ(e.kind, ReplyEvent::Kind::kDone) << e.why;
  EXPECT_EQ(e.result, 0);

  std::vector<std::byte> back(8192 + 4096, std::byte{0xee});
  table = OneRequest{};
  table.cookie = 2;
  table.reply.command = Command::kRead;
  table.reply.offset = 1 << 20;
  table.reply.length = static_cast<std::uint32_t>(back.size());
  table.reply.data = back;
  send_all(fd.get(), encode_request({0, Command::kRead, 2, 1 << 20, static_cast<std::uint32_t>(back.size())}));
  e = wait_reply(fd.get(), reader, table);
  ASSERT_EQ(e.kind, ReplyEvent::Kind::kDone) << e.why;
  EXPECT_EQ(e.result, 0);
  EXPECT_TRUE(std::equal(data.begin(), data.end(), back.begin()));
  EXPECT_TRUE(std::all_of(back.begin() + 8192, back.end(), [](std::byte b) { return b == std::byte{0}; }));

  // A READ past the end fails with an error reply, and the stream stays usable.
  table = OneRequest{};
  table.cookie = 3;
  table.reply.command = Command::kRead;
  table.reply.offset = 64ULL << 20;
  table.reply.length = 4096;
  table.reply.data = std::span(back).first(4096);
  send_all(fd.get(), encode_request({0, Command::kRead, 3, 64ULL << 20, 4096}));
  e = wait_reply(fd.get(), reader, table);
  ASSERT_EQ(e.kind, ReplyEvent::Kind::kDone) << e.why;
  EXPECT_LT(e.result, 0);
  send_all(fd.get(), encode_request({0, Command::kDisconnect, 4, 0, 0}));
}

// The same server over TCP on the loopback: the tcp: address path, TCP_NODELAY included.
TEST(NbdkitTcp, NegotiatesOverTcp) {
  const auto nbdkit = find_nbdkit();
  if (!nbdkit) GTEST_SKIP() << "nbdkit is not installed (scripts/setup.sh installs it)";
  // A free port: bind to port 0, read it back, let it go for nbdkit.
  UniqueFd probe(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof sin;
  ASSERT_EQ(::bind(probe.get(), reinterpret_cast<sockaddr*>(&sin), sizeof sin), 0);
  ASSERT_EQ(::getsockname(probe.get(), reinterpret_cast<sockaddr*>(&sin), &len), 0);
  const std::string port = std::to_string(ntohs(sin.sin_port));
  probe.reset();
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::execl(nbdkit->c_str(), "nbdkit", "-f", "-i", "127.0.0.1", "-p", port.c_str(), "memory", "3M",
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  const auto address = std::get<Address>(parse_address("tcp:127.0.0.1:" + port));
  std::optional<Export> ex;
  std::string last_error;
  for (int i = 0; i < 500 && !ex; ++i) {
    try {
      UniqueFd fd = connect_to(address);
      ex = negotiate(fd.get(), "");
    } catch (const std::exception& e) {
      last_error = e.what();
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  ::kill(pid, SIGTERM);
  ::waitpid(pid, nullptr, 0);
  ASSERT_TRUE(ex) << last_error;
  EXPECT_EQ(ex->size, 3U << 20);
  EXPECT_TRUE(ex->structured_replies);
}

}  // namespace
}  // namespace ublk::nbd
