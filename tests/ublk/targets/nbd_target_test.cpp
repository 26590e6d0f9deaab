// The NBD target on the host, against the fake server in this process: pipelining, replies in
// any order, each kind of misbehaviour, reconnect and --timeout. No ublk kernel needed: each
// queue is a RingQueue (a thread with a real io_uring, on which the target's socket IO runs).
#include "nbd_target.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "callback_owner.hpp"
#include "fake_server.hpp"
#include "targets/ring_queue.hpp"

namespace ublk {
namespace {

using namespace std::chrono_literals;
using nbd::testing::FakeExport;
using nbd::testing::FakeStore;
using nbd::testing::Misbehaviour;
using nbd::testing::Script;

// The fake server on a unix socket (or TCP on 127.0.0.1), on threads of this process; stop()
// drops every connection.
class Server {
 public:
  enum class On : std::uint8_t { kUnix, kTcp };
  Server(FakeExport ex, std::uint64_t grow_per_connection = 0, On on = On::kUnix)
      : ex_(std::move(ex)), grow_(grow_per_connection), store_(ex_.size + 64 * grow_per_connection), on_(on) {
    char tmpl[] = "/tmp/ublk-nbd-target-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    path_ = dir_ + "/s";
    start();
  }
  ~Server() {
    stop();
    std::filesystem::remove_all(dir_);
  }
  void start() {
    if (on_ == On::kTcp) {
      listen_tcp();
    } else {
      listener_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_un sun{};
      sun.sun_family = AF_UNIX;
      std::strcpy(sun.sun_path, path_.c_str());
      ::unlink(path_.c_str());
      if (::bind(listener_, reinterpret_cast<sockaddr*>(&sun), sizeof sun) != 0 || ::listen(listener_, 16) != 0) {
        throw std::runtime_error("fake server: bind");
      }
    }
    acceptor_ = std::thread([this] {
      for (unsigned count = 0;; ++count) {
        const int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) return;
        std::lock_guard lock(mutex_);
        fds_.push_back(fd);
        FakeExport ex = ex_;
        ex.size += grow_ * connections_++;
        threads_.emplace_back([this, fd, ex] {
          if (auto structured = nbd::testing::serve_handshake(fd, ex)) {
            nbd::testing::serve_transmission(fd, store_, *structured, script);
          }
          ::shutdown(fd, SHUT_RDWR);
        });
      }
    });
  }
  void stop() {
    if (listener_ < 0) return;
    ::shutdown(listener_, SHUT_RDWR);
    acceptor_.join();
    ::close(listener_);
    listener_ = -1;
    ::unlink(path_.c_str());
    std::vector<std::thread> threads;
    {
      std::lock_guard lock(mutex_);
      for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
      threads.swap(threads_);
    }
    for (auto& t : threads) t.join();
    std::lock_guard lock(mutex_);
    for (int fd : fds_) ::close(fd);
    fds_.clear();
  }
  [[nodiscard]] std::string address() const {
    return on_ == On::kTcp ? "tcp:127.0.0.1:" + std::to_string(port_) : "unix:" + path_;
  }
  FakeStore& store() { return store_; }
  unsigned connections() {
    std::lock_guard lock(mutex_);
    return connections_;
  }
  Script script;

 private:
  // 127.0.0.1, on the port of the first start.
  void listen_tcp() {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int one = 1;
    ::setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sin.sin_port = htons(port_);
    socklen_t length = sizeof sin;
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&sin), sizeof sin) != 0 || ::listen(listener_, 16) != 0 ||
        ::getsockname(listener_, reinterpret_cast<sockaddr*>(&sin), &length) != 0) {
      throw std::runtime_error("fake server: bind 127.0.0.1");
    }
    port_ = ntohs(sin.sin_port);
  }

  FakeExport ex_;
  std::uint64_t grow_;
  FakeStore store_;
  On on_;
  std::uint16_t port_ = 0;
  std::string dir_, path_;
  int listener_ = -1;
  std::thread acceptor_;
  std::mutex mutex_;
  std::vector<int> fds_;
  std::vector<std::thread> threads_;
  unsigned connections_ = 0;
};

// Plays the queue: records every completion, per tag.
class Recorder {
 public:
  static void record(void* self, unsigned tag, int result, std::uint64_t copied) noexcept {
    auto* r = static_cast<Recorder*>(self);
    // Notified under the lock: a test that saw its results may destroy the recorder at once.
    std::lock_guard lock(r->mutex_);
    r->results_[tag].push_back(result);
    r->copied_ += copied;
    r->cv_.notify_all();
  }
  Completion completion(unsigned tag) { return Completion(owner_, tag, 0); }
  // Waits until `count` tags have a result; false on timeout.
  bool wait(std::size_t count, std::chrono::milliseconds limit = 10s) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, limit, [&] { return results_.size() >= count; });
  }
  std::map<unsigned, std::vector<int>> results() {
    std::lock_guard lock(mutex_);
    return results_;
  }
  void clear() {
    std::lock_guard lock(mutex_);
    results_.clear();
    copied_ = 0;
  }
  // READ payload bytes the target copied in user space (Completion's `copied`).
  std::uint64_t copied() {
    std::lock_guard lock(mutex_);
    return copied_;
  }

 private:
  test::CallbackOwner owner_{&Recorder::record, this};
  std::mutex mutex_;
  std::condition_variable cv_;
  std::map<unsigned, std::vector<int>> results_;
  std::uint64_t copied_ = 0;
};

// One RingQueue per queue of the target; handle() posts a request to its queue.
class RingQueues {
 public:
  RingQueues(Target& target, unsigned count) {
    for (unsigned q = 0; q < count; ++q) queues_.push_back(std::make_unique<test::RingQueue>(target, q));
  }
  void handle(const Request& request, Completion done) { queues_.at(request.queue)->post(request, done); }

 private:
  std::vector<std::unique_ptr<test::RingQueue>> queues_;
};

NbdTargetConfig config_for(const Server& server, std::chrono::milliseconds timeout = 5s, unsigned queues = 1) {
  NbdTargetConfig c;
  c.endpoint.address = std::get<nbd::Address>(nbd::parse_address(server.address()));
  c.queues = queues;
  c.depth = 64;
  c.timeout = timeout;
  c.log = [](std::string_view line) { std::fprintf(stderr, "nbd: %.*s\n", static_cast<int>(line.size()), line.data()); };
  return c;
}

std::vector<std::byte> pattern(std::size_t n, unsigned seed) {
  std::vector<std::byte> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>((i * 31 + seed * 7 + 1) & 0xff);
  return v;
}

struct Io {
  ublk::IoOp op;
  std::uint64_t offset;
  std::vector<std::byte> data;
};

Request request_for(Io& io, unsigned tag, unsigned queue = 0) {
  Request r;
  r.op = io.op;
  r.offset = io.offset;
  r.length = static_cast<std::uint32_t>(io.data.size());
  r.data = io.data;
  r.tag = tag;
  r.queue = queue;
  return r;
}

// `n` requests of various sizes at distinct offsets, all in flight at once.
std::vector<Io> writes(unsigned n) {
  std::vector<Io> ios;
  for (unsigned i = 0; i < n; ++i) ios.push_back({ublk::IoOp::kWrite, i * (256ULL << 10), pattern(4096 << (i % 6), i)});
  return ios;
}
std::vector<Io> reads_of(const std::vector<Io>& w) {
  std::vector<Io> ios;
  for (const auto& io : w) ios.push_back({ublk::IoOp::kRead, io.offset, std::vector<std::byte>(io.data.size())});
  return ios;
}

void run_all(RingQueues& queues, Recorder& rec, std::vector<Io>& ios) {
  rec.clear();
  for (unsigned tag = 0; tag < ios.size(); ++tag) queues.handle(request_for(ios[tag], tag), rec.completion(tag));
  ASSERT_TRUE(rec.wait(ios.size())) << "requests did not complete";
}

void expect_all_ok_once(Recorder& rec, const std::vector<Io>& ios) {
  const auto results = rec.results();
  ASSERT_EQ(results.size(), ios.size());
  for (const auto& [tag, list] : results) {
    ASSERT_EQ(list.size(), 1U) << "tag " << tag << " completed " << list.size() << " times";
    EXPECT_EQ(list[0], static_cast<int>(ios[tag].data.size())) << "tag " << tag;
  }
}

class NbdTargetTest : public ::testing::TestWithParam<bool> {};  // structured replies?

TEST_P(NbdTargetTest, PipelinedWritesAndReadsInAnyOrder) {
  FakeExport ex;
  ex.offer_structured = GetParam();
  Server server(ex);
  server.script.reorder = true;
  NbdTarget target(config_for(server));
  RingQueues queues(target, target.queues());
  EXPECT_EQ(target.export_info().structured_replies, GetParam());
  Recorder rec;
  auto w = writes(64);
  run_all(queues, rec, w);
  expect_all_ok_once(rec, w);
  auto r = reads_of(w);
  run_all(queues, rec, r);
  expect_all_ok_once(rec, r);
  for (unsigned i = 0; i < w.size(); ++i) EXPECT_EQ(r[i].data, w[i].data) << "request " << i;
}

// A queue at iodepth 1: the one READ owed is received straight into its buffer, from 4 KiB to
// 128 KiB, over the queue's real ring. (Structured: a server that sends a READ in one chunk, as
// nbdkit and qemu-nbd do for data.)
TEST_P(NbdTargetTest, OneReadAtATimeIsReceivedWithoutACopy) {
  FakeExport ex;
  ex.offer_structured = GetParam();
  Server server(ex);
  server.script.split_reads = false;
  NbdTarget target(config_for(server));
  RingQueues queues(target, target.queues());
  Recorder rec;
  auto w = writes(6);
  run_all(queues, rec, w);
  expect_all_ok_once(rec, w);
  auto r = reads_of(w);
  rec.clear();
  for (unsigned tag = 0; tag < r.size(); ++tag) {
    queues.handle(request_for(r[tag], tag), rec.completion(tag));
    ASSERT_TRUE(rec.wait(tag + 1)) << "read " << tag << " did not complete";
  }
  expect_all_ok_once(rec, r);
  for (unsigned i = 0; i < w.size(); ++i) EXPECT_EQ(r[i].data, w[i].data) << "request " << i;
  EXPECT_EQ(rec.copied(), 0U);
}

INSTANTIATE_TEST_SUITE_P(Replies, NbdTargetTest, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "structured" : "simple"; });

// ---- zero-copy send (IORING_OP_SENDMSG_ZC) ----

std::uint64_t counter(const Target& target, std::string_view name) {
  for (const auto& c : target.counters()) {
    if (c.name == name) return c.value;
  }
  ADD_FAILURE() << "no counter " << name;
  return 0;
}
bool has_counter(const Target& target, std::string_view name) {
  const auto all = target.counters();
  return std::any_of(all.begin(), all.end(), [&](const TargetCounter& c) { return c.name == name; });
}

// 64 WRITEs of 4 KiB to 1 MiB at distinct MiB offsets.
std::vector<Io> large_writes() {
  std::vector<Io> ios;
  for (unsigned i = 0; i < 64; ++i) ios.push_back({ublk::IoOp::kWrite, i * (1ULL << 20), pattern(4096U << (i % 9), i)});
  return ios;
}

// A target with zero-copy send asked for every WRITE batch (threshold 0, even to this host),
// its log lines kept: large_writes(), then reading them back, must give the same bytes.
struct ZeroCopyRun {
  std::mutex mutex;  // the target logs from its queues' threads
  std::vector<std::string> lines;
  std::uint64_t written = 0;

  explicit ZeroCopyRun(Server& server) {
    NbdTargetConfig config = config_for(server);
    config.log = [&](std::string_view line) {
      std::lock_guard lock(mutex);
      lines.emplace_back(line);
    };
    config.send_zc_min = 0;
    config.send_zc_to_this_host = true;  // the fake server is on this host
    target.emplace(config);
    Recorder rec;
    auto w = large_writes();
    auto r = reads_of(w);
    {
      RingQueues queues(*target, target->queues());
      run_all(queues, rec, w);
      expect_all_ok_once(rec, w);
      run_all(queues, rec, r);
      expect_all_ok_once(rec, r);
    }  // the queue's thread waits for every notification before it ends
    for (unsigned i = 0; i < w.size(); ++i) EXPECT_EQ(r[i].data, w[i].data) << "request " << i;
    for (const auto& io : w) written += io.data.size();
  }
  [[nodiscard]] long lines_with(std::string_view text) {
    std::lock_guard lock(mutex);
    return std::count_if(lines.begin(), lines.end(), [&](const std::string& l) { return l.find(text) != std::string::npos; });
  }
  std::optional<NbdTarget> target;
};

TEST(NbdTargetZeroCopy, PipelinedWritesOverTcpGoZeroCopyAndReadBack) {
  FakeExport ex;
  Server server(ex, 0, Server::On::kTcp);
  server.script.reorder = true;
  ZeroCopyRun run(server);
  const NbdTarget& target = *run.target;
  // With threshold 0 every batch that carries WRITE data goes zero-copy: all of it.
  EXPECT_EQ(counter(target, "send_zc_write_bytes"), run.written);
  EXPECT_GT(counter(target, "send_zc_sends"), 0U);
  RecordProperty("send_zc_sends", std::to_string(counter(target, "send_zc_sends")));
  if (has_counter(target, "send_zc_copied")) {
    RecordProperty("send_zc_copied", std::to_string(counter(target, "send_zc_copied")));
    // Linux 6.2+ says whether it copied. Over loopback it always does (the receiving socket
    // cannot keep pages the sender still owns: msg_zerocopy.rst, "Loopback"), so every
    // zero-copy send is reported copied.
    EXPECT_EQ(counter(target, "send_zc_copied"), counter(target, "send_zc_sends"));
  }
  EXPECT_EQ(run.lines_with("refused"), 0);
}

TEST(NbdTargetZeroCopy, AUnixSocketRefusesItAndTheConnectionFallsBackOnce) {
  FakeExport ex;
  Server server(ex);
  ZeroCopyRun run(server);
  EXPECT_EQ(counter(*run.target, "send_zc_write_bytes"), 0U);
  EXPECT_EQ(counter(*run.target, "send_zc_sends"), 0U);
  EXPECT_EQ(run.lines_with("zero-copy send refused"), 1) << "one line, once";
}

TEST(NbdTargetZeroCopy, AServerOnThisHostGetsPlainSendsUnlessAskedFor) {
  FakeExport ex;
  Server server(ex, 0, Server::On::kTcp);
  std::vector<std::string> lines;
  NbdTargetConfig config = config_for(server);
  config.log = [&](std::string_view line) { lines.emplace_back(line); };  // setup: one thread
  config.send_zc_min = 0;
  NbdTarget target(config);
  EXPECT_TRUE(target.counters().empty()) << "no zero-copy counters: zero-copy send is off";
  ASSERT_FALSE(lines.empty());
  EXPECT_NE(lines.front().find("zero-copy send off: the server is on this host"), std::string::npos) << lines.front();
}

TEST(NbdTargetZeroCopy, OffReportsNoCounters) {
  FakeExport ex;
  Server server(ex);
  NbdTarget target(config_for(server));
  EXPECT_TRUE(target.counters().empty());
}

struct Fault {
  Misbehaviour kind;
  bool recovers;  // true: the IO succeeds on the next connection; false: it fails with EIO
};

class NbdTargetFaults : public ::testing::TestWithParam<Fault> {};

TEST_P(NbdTargetFaults, SurvivesAndNeverCompletesTwice) {
  FakeExport ex;
  Server server(ex);
  NbdTarget target(config_for(server));
  RingQueues queues(target, target.queues());
  Recorder rec;
  auto w = writes(16);
  run_all(queues, rec, w);
  expect_all_ok_once(rec, w);

  server.script.after = server.script.requests.load() + 5;  // the 6th READ goes wrong
  server.script.misbehave = GetParam().kind;
  auto r = reads_of(w);
  run_all(queues, rec, r);
  const auto results = rec.results();
  unsigned failed = 0;
  for (const auto& [tag, list] : results) {
    ASSERT_EQ(list.size(), 1U) << "tag " << tag << " completed " << list.size() << " times";
    if (list[0] < 0) {
      EXPECT_EQ(list[0], -EIO);
      ++failed;
    } else {
      EXPECT_EQ(list[0], static_cast<int>(r[tag].data.size()));
      EXPECT_EQ(r[tag].data, w[tag].data) << "tag " << tag << " handed back data it did not receive";
    }
  }
  EXPECT_EQ(failed, GetParam().recovers ? 0U : 1U);
  if (GetParam().recovers) {
    EXPECT_GE(server.connections(), 2U) << "expected a reconnect";
  }

  // The target still works afterwards.
  auto again = reads_of(w);
  run_all(queues, rec, again);
  expect_all_ok_once(rec, again);
}

INSTANTIATE_TEST_SUITE_P(Kinds, NbdTargetFaults,
                         ::testing::Values(Fault{Misbehaviour::kBadMagic, true}, Fault{Misbehaviour::kUnknownCookie, true},
                                           Fault{Misbehaviour::kShortReply, true}, Fault{Misbehaviour::kDrop, true},
                                           Fault{Misbehaviour::kErrorReply, false},
                                           Fault{Misbehaviour::kIncompleteRead, false}),
                         [](const auto& info) {
                           switch (info.param.kind) {
                             case Misbehaviour::kBadMagic: return "bad_magic";
                             case Misbehaviour::kUnknownCookie: return "unknown_cookie";
                             case Misbehaviour::kShortReply: return "short_reply";
                             case Misbehaviour::kDrop: return "drop";
                             case Misbehaviour::kErrorReply: return "error_reply";
                             case Misbehaviour::kIncompleteRead: return "incomplete_read";
                             default: return "other";
                           }
                         });

TEST(NbdTarget, ServerGoneFailsAfterTimeoutAndRecoversWhenBack) {
  Server server(FakeExport{});
  NbdTarget target(config_for(server, 400ms));
  RingQueues queues(target, target.queues());
  Recorder rec;
  server.stop();
  std::vector<Io> one{{ublk::IoOp::kWrite, 0, pattern(4096, 1)}};
  const auto start = std::chrono::steady_clock::now();
  queues.handle(request_for(one[0], 0), rec.completion(0));
  ASSERT_TRUE(rec.wait(1, 5s));
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(rec.results()[0], std::vector<int>{-EIO});
  EXPECT_GE(waited, 350ms);
  EXPECT_LT(waited, 3s);

  server.start();
  // The worker retries on its backoff (at most 2 s apart); IO fails until it is back.
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  int result = -EIO;
  while (result < 0 && std::chrono::steady_clock::now() < deadline) {
    rec.clear();
    queues.handle(request_for(one[0], 0), rec.completion(0));
    ASSERT_TRUE(rec.wait(1));
    result = rec.results()[0][0];
    if (result < 0) std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(result, 4096);
}

TEST(NbdTarget, InFlightIoWaitsForTheServerToComeBack) {
  Server server(FakeExport{});
  NbdTarget target(config_for(server, 10s));
  RingQueues queues(target, target.queues());
  Recorder rec;
  auto w = writes(8);
  server.stop();
  for (unsigned tag = 0; tag < w.size(); ++tag) queues.handle(request_for(w[tag], tag), rec.completion(tag));
  std::this_thread::sleep_for(300ms);
  EXPECT_TRUE(rec.results().empty()) << "IO completed while the server was away";
  server.start();
  ASSERT_TRUE(rec.wait(w.size()));
  expect_all_ok_once(rec, w);
  auto r = reads_of(w);
  run_all(queues, rec, r);
  for (unsigned i = 0; i < w.size(); ++i) EXPECT_EQ(r[i].data, w[i].data);
}

TEST(NbdTarget, StoppingFailsWhatWaitsForTheServerAtOnce) {
  Server server(FakeExport{});
  NbdTarget target(config_for(server, 60s));
  RingQueues queues(target, target.queues());
  Recorder rec;
  auto w = writes(4);
  // A healthy connection: on_stopping() leaves its IO alone.
  target.on_stopping();
  run_all(queues, rec, w);
  expect_all_ok_once(rec, w);
  rec.clear();
  server.stop();
  for (unsigned tag = 0; tag < w.size(); ++tag) queues.handle(request_for(w[tag], tag), rec.completion(tag));
  // The held requests fail as soon as the connection is known to be down, not after 60 s.
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(rec.wait(w.size(), 5s));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
  for (unsigned tag = 0; tag < w.size(); ++tag) EXPECT_EQ(rec.results()[tag], std::vector<int>{-EIO}) << tag;
  rec.clear();
  std::vector<Io> one{{ublk::IoOp::kRead, 0, std::vector<std::byte>(4096)}};
  queues.handle(request_for(one[0], 0), rec.completion(0));
  ASSERT_TRUE(rec.wait(1, 1s));
  EXPECT_EQ(rec.results()[0], std::vector<int>{-EIO});
}

TEST(NbdTarget, StoppingWhileAlreadyWaitingFailsAtOnce) {
  Server server(FakeExport{});
  NbdTarget target(config_for(server, 60s));
  RingQueues queues(target, target.queues());
  Recorder rec;
  auto w = writes(4);
  server.stop();
  for (unsigned tag = 0; tag < w.size(); ++tag) queues.handle(request_for(w[tag], tag), rec.completion(tag));
  // Reconnects were tried at about 0, 0.1, 0.3, 0.7 and 1.5 s; the next is 1.6 s away. Only the
  // wake-up from on_stopping (another thread) can end the wait sooner.
  std::this_thread::sleep_for(1600ms);
  EXPECT_TRUE(rec.results().empty()) << "IO completed while the server was away";
  const auto start = std::chrono::steady_clock::now();
  target.on_stopping();
  ASSERT_TRUE(rec.wait(w.size(), 5s));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 500ms);
  for (unsigned tag = 0; tag < w.size(); ++tag) EXPECT_EQ(rec.results()[tag], std::vector<int>{-EIO}) << tag;
}

// A unix listener at `path` that takes connections and never says a word; empty on failure.
UniqueFd mute_listener(const std::string& path) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un sun{};
  sun.sun_family = AF_UNIX;
  std::strcpy(sun.sun_path, path.c_str());
  if (!fd || ::bind(fd.get(), reinterpret_cast<sockaddr*>(&sun), sizeof sun) != 0 || ::listen(fd.get(), 16) != 0) {
    return UniqueFd();
  }
  return fd;
}

// Where `server` listened, a listener that takes connections and never says a word (the server
// stopped first). Its socket file goes with it.
struct MuteInPlace {
  explicit MuteInPlace(Server& server) : path(server.address().substr(5)) {
    server.stop();
    fd = mute_listener(path);
  }
  MuteInPlace(const MuteInPlace&) = delete;
  MuteInPlace& operator=(const MuteInPlace&) = delete;
  ~MuteInPlace() { ::unlink(path.c_str()); }
  std::string path;
  UniqueFd fd;
};

TEST(NbdTarget, AServerThatNeverAnswersTheHandshakeHoldsAReconnectForAtMostAStep) {
  Server server(FakeExport{});
  NbdTarget target(config_for(server, 1500ms));
  RingQueues queues(target, target.queues());
  Recorder rec;
  // Without the step limit, the reconnect's handshake would wait for this one for good.
  const MuteInPlace mute(server);
  ASSERT_TRUE(mute.fd);
  std::vector<Io> one{{ublk::IoOp::kRead, 0, std::vector<std::byte>(4096)}};
  const auto start = std::chrono::steady_clock::now();
  queues.handle(request_for(one[0], 0), rec.completion(0));
  // --timeout 1.5 s, plus at most one step of an attempt under way (1 s), plus slack.
  ASSERT_TRUE(rec.wait(1, 10s)) << "the queue's thread is stuck in a reconnect";
  EXPECT_EQ(rec.results()[0], std::vector<int>{-EIO});
  EXPECT_LT(std::chrono::steady_clock::now() - start, 4s);
}

// Someone connected to `listener` (it has a connection to accept) within `limit`.
bool called(const UniqueFd& listener, std::chrono::milliseconds limit) {
  pollfd p{listener.get(), POLLIN, 0};
  return ::poll(&p, 1, static_cast<int>(limit.count())) == 1;
}

// A reconnect waiting for a mute server is IO on the ring, not a wait on the queue's thread: the
// thread takes on_stopping's wake-up while the handshake's first receive is under way, well
// before that step's 1 s limit. (A reconnect that blocks the thread answers only after the step.)
TEST(NbdTarget, StoppingDuringAReconnectAttemptFailsAtOnce) {
  Server server(FakeExport{});
  NbdTarget target(config_for(server, 60s));
  std::optional<MuteInPlace> mute;  // outlives the queue, which then stops with the attempt still waiting
  RingQueues queues(target, target.queues());
  Recorder rec;
  mute.emplace(server);
  ASSERT_TRUE(mute->fd);
  std::vector<Io> one{{ublk::IoOp::kRead, 0, std::vector<std::byte>(4096)}};
  queues.handle(request_for(one[0], 0), rec.completion(0));
  ASSERT_TRUE(called(mute->fd, 5s)) << "no reconnect attempt";
  std::this_thread::sleep_for(100ms);  // the attempt is in its handshake now
  EXPECT_TRUE(rec.results().empty()) << "IO completed while the server was away";
  const auto start = std::chrono::steady_clock::now();
  target.on_stopping();
  ASSERT_TRUE(rec.wait(1, 5s));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 300ms) << "the queue's thread waited for the attempt";
  EXPECT_EQ(rec.results()[0], std::vector<int>{-EIO});
}

// With --timeout 0 new IO fails at once while the link is down, also while a reconnect attempt
// waits for a mute server.
TEST(NbdTarget, NewIoIsAnsweredWhileAReconnectAttemptWaits) {
  Server server(FakeExport{});
  NbdTarget target(config_for(server, 0ms));
  RingQueues queues(target, target.queues());
  Recorder rec;
  const MuteInPlace mute(server);
  ASSERT_TRUE(mute.fd);
  ASSERT_TRUE(called(mute.fd, 5s)) << "no reconnect attempt";
  std::this_thread::sleep_for(100ms);
  for (unsigned round = 0; round < 3; ++round) {
    rec.clear();
    std::vector<Io> one{{ublk::IoOp::kRead, 0, std::vector<std::byte>(4096)}};
    const auto start = std::chrono::steady_clock::now();
    queues.handle(request_for(one[0], 0), rec.completion(0));
    ASSERT_TRUE(rec.wait(1, 5s));
    EXPECT_LT(std::chrono::steady_clock::now() - start, 300ms) << "round " << round;
    EXPECT_EQ(rec.results()[0], std::vector<int>{-EIO});
    std::this_thread::sleep_for(100ms);
  }
}

// A TCP listener on 127.0.0.1:port whose accept queue is full, so that the kernel drops every
// new SYN: a connect to it waits (the kernel would retry for about two minutes).
struct SynDropper {
  UniqueFd listener;
  std::vector<UniqueFd> waiting;
  explicit SynDropper(std::uint16_t port) : listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    const int one = 1;
    ::setsockopt(listener.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sin.sin_port = htons(port);
    const auto* at = reinterpret_cast<sockaddr*>(&sin);
    if (::bind(listener.get(), at, sizeof sin) != 0 || ::listen(listener.get(), 0) != 0) {
      listener.reset();
      return;
    }
    for (int i = 0; i < 4; ++i) {
      waiting.emplace_back(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
      (void)::connect(waiting.back().get(), at, sizeof sin);
    }
    std::this_thread::sleep_for(100ms);
  }
};

// The target's log lines, from any thread.
class LogLines {
 public:
  nbd::LogSink sink() {
    return [this](std::string_view line) {
      std::lock_guard lock(mutex_);
      lines_.emplace_back(line);
    };
  }
  // Waits until a line has `text`; false after `limit`.
  bool wait_for(const std::string& text, std::chrono::milliseconds limit) {
    const auto end = std::chrono::steady_clock::now() + limit;
    for (;;) {
      {
        std::lock_guard lock(mutex_);
        const auto has = [&](const std::string& line) { return line.find(text) != std::string::npos; };
        if (std::any_of(lines_.begin(), lines_.end(), has)) return true;
      }
      if (std::chrono::steady_clock::now() > end) return false;
      std::this_thread::sleep_for(10ms);
    }
  }

 private:
  std::mutex mutex_;
  std::vector<std::string> lines_;
};

// The reconnect attempt logs `failure` between `at_least` and `at_most` after `start`.
void expect_the_step_to_end(LogLines& log, const std::string& failure, std::chrono::steady_clock::time_point start,
                            std::chrono::milliseconds at_least, std::chrono::milliseconds at_most) {
  ASSERT_TRUE(log.wait_for(failure, 5s));
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_GE(waited, at_least);
  EXPECT_LT(waited, at_most);
}

// The one READ held for a server that is away still waits, and stopping fails it with EIO.
void expect_stopping_to_fail_it(NbdTarget& target, Recorder& rec) {
  EXPECT_TRUE(rec.results().empty()) << "IO completed while the server was away";
  target.on_stopping();
  ASSERT_TRUE(rec.wait(1, 5s));
  EXPECT_EQ(rec.results()[0], std::vector<int>{-EIO});
}

// Each step of a reconnect on the ring ends after at most kStepLimit (1 s): the socket is shut
// down, which ends the op, and the attempt fails as timed out. Here the handshake's first
// receive from a server that never speaks.
TEST(NbdTarget, AHandshakeStepThatHangsEndsAfterAStep) {
  Server server(FakeExport{});
  LogLines log;
  NbdTargetConfig config = config_for(server, 60s);
  config.log = log.sink();
  NbdTarget target(config);
  std::optional<MuteInPlace> mute;  // outlives the queue
  RingQueues queues(target, target.queues());
  Recorder rec;
  mute.emplace(server);
  ASSERT_TRUE(mute->fd);
  std::vector<Io> one{{ublk::IoOp::kRead, 0, std::vector<std::byte>(4096)}};
  queues.handle(request_for(one[0], 0), rec.completion(0));
  ASSERT_TRUE(called(mute->fd, 5s)) << "no reconnect attempt";
  expect_the_step_to_end(log, "reconnect failed: reading from the NBD server: Connection timed out",
                         std::chrono::steady_clock::now(), 800ms, 2s);
  expect_stopping_to_fail_it(target, rec);
}

// The same for the connect: IORING_OP_CONNECT to a host that drops the SYN.
TEST(NbdTarget, AReconnectWhoseConnectHangsEndsAfterAStep) {
  Server server(FakeExport{}, 0, Server::On::kTcp);
  LogLines log;
  NbdTargetConfig config = config_for(server, 60s);
  config.log = log.sink();
  NbdTarget target(config);
  const std::string address = server.address();
  const auto port = static_cast<std::uint16_t>(std::stoi(address.substr(address.rfind(':') + 1)));
  std::optional<SynDropper> dropper;  // outlives the queue
  RingQueues queues(target, target.queues());
  Recorder rec;
  server.stop();
  dropper.emplace(port);
  ASSERT_TRUE(dropper->listener);
  std::vector<Io> one{{ublk::IoOp::kRead, 0, std::vector<std::byte>(4096)}};
  const auto start = std::chrono::steady_clock::now();
  queues.handle(request_for(one[0], 0), rec.completion(0));
  expect_the_step_to_end(log, "reconnect failed: cannot connect to " + address + ": Connection timed out", start,
                         900ms, 3s);
  expect_stopping_to_fail_it(target, rec);
}

TEST(NbdTarget, ASetupAgainstAServerThatNeverAnswersFailsWithinItsStepLimit) {
  // A listener that takes the connection and never says a word.
  const std::string dir = ::testing::TempDir();
  const std::string path = dir + "/mute-" + std::to_string(::getpid()) + ".sock";
  ::unlink(path.c_str());
  const UniqueFd mute = mute_listener(path);
  ASSERT_TRUE(mute);
  NbdTargetConfig config;
  config.endpoint.address = std::get<nbd::Address>(nbd::parse_address("unix:" + path));
  config.setup_step_limit = 300ms;
  const auto start = std::chrono::steady_clock::now();
  try {
    NbdTarget target(config);
    ADD_FAILURE() << "a server that never greets was taken";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code().value(), ETIMEDOUT) << e.what();
    EXPECT_NE(std::string(e.what()).find("reading from the NBD server"), std::string::npos) << e.what();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
  ::unlink(path.c_str());
}

TEST(NbdTarget, TimeoutZeroFailsAtOnce) {
  Server server(FakeExport{});
  NbdTarget target(config_for(server, 0ms));
  RingQueues queues(target, target.queues());
  Recorder rec;
  server.stop();
  std::vector<Io> one{{ublk::IoOp::kRead, 0, std::vector<std::byte>(4096)}};
  const auto start = std::chrono::steady_clock::now();
  queues.handle(request_for(one[0], 0), rec.completion(0));
  ASSERT_TRUE(rec.wait(1, 5s));
  EXPECT_EQ(rec.results()[0], std::vector<int>{-EIO});
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
}

TEST(NbdTarget, AnExportThatChangedSizeIsNotTakenBack) {
  Server server(FakeExport{}, /*grow_per_connection=*/1 << 20);
  NbdTarget target(config_for(server, 600ms));
  RingQueues queues(target, target.queues());
  Recorder rec;
  server.script.misbehave = Misbehaviour::kDrop;
  server.script.after = 0;
  std::vector<Io> one{{ublk::IoOp::kRead, 0, std::vector<std::byte>(4096)}};
  queues.handle(request_for(one[0], 0), rec.completion(0));
  ASSERT_TRUE(rec.wait(1, 5s));
  EXPECT_EQ(rec.results()[0], std::vector<int>{-EIO});
  EXPECT_GE(server.connections(), 2U);
}

TEST(NbdTarget, TheExportDecidesTheDeviceShapeAndOps) {
  FakeExport ex;
  ex.flags = nbd::tflag::kHasFlags | nbd::tflag::kSendFlush | nbd::tflag::kSendFua | nbd::tflag::kSendTrim |
             nbd::tflag::kSendWriteZeroes | nbd::tflag::kCanMultiConn;
  Server server(ex);
  NbdTarget target(config_for(server, 1s, 4));
  RingQueues queues(target, target.queues());
  const TargetTraits t = target.traits();
  EXPECT_EQ(t.size_bytes, ex.size / t.logical_block * t.logical_block);
  EXPECT_FALSE(t.read_only);
  EXPECT_TRUE(t.volatile_cache);
  EXPECT_TRUE(t.fua);
  EXPECT_GT(t.max_discard_bytes, 0U);
  EXPECT_GT(t.max_write_zeroes_bytes, 0U);
  EXPECT_EQ(t.max_queues, target.queues());
  EXPECT_EQ(t.max_io_bytes, ex.block.maximum);
  EXPECT_EQ(target.describe().find("one queue"), std::string::npos);
}

TEST(NbdTarget, ExportFlagsDecideTheOps) {
  FakeExport ex;
  ex.flags = nbd::tflag::kHasFlags | nbd::tflag::kReadOnly;
  Server server(ex);
  NbdTarget target(config_for(server, 1s, 4));
  RingQueues queues(target, target.queues());
  EXPECT_EQ(target.queues(), 1U);
  EXPECT_NE(target.describe().find("one queue"), std::string::npos);
  const TargetTraits t = target.traits();
  EXPECT_TRUE(t.read_only);
  EXPECT_EQ(t.max_queues, 1U);
  EXPECT_FALSE(t.volatile_cache);  // no NBD_FLAG_SEND_FLUSH: the kernel sends no FLUSH
  EXPECT_FALSE(t.fua);
  EXPECT_EQ(t.max_discard_bytes, 0U);
  EXPECT_EQ(t.max_write_zeroes_bytes, 0U);
  Recorder rec;
  std::vector<Io> ios{{ublk::IoOp::kWrite, 0, pattern(4096, 1)},
                      {ublk::IoOp::kFlush, 0, {}},
                      {ublk::IoOp::kDiscard, 0, {}},
                      {ublk::IoOp::kRead, 0, std::vector<std::byte>(4096)}};
  ios[2].data.clear();
  rec.clear();
  for (unsigned tag = 0; tag < ios.size(); ++tag) {
    Request r = request_for(ios[tag], tag);
    if (ios[tag].op == ublk::IoOp::kDiscard) r.length = 4096;
    queues.handle(r, rec.completion(tag));
  }
  ASSERT_TRUE(rec.wait(ios.size()));
  auto results = rec.results();
  EXPECT_EQ(results[0][0], -EROFS);
  EXPECT_EQ(results[1][0], 0);  // no cache on the server: nothing to flush
  EXPECT_EQ(results[2][0], -EROFS);
  EXPECT_EQ(results[3][0], 4096);
}

TEST(NbdTarget, MultiConnGivesOneConnectionPerQueue) {
  Server server(FakeExport{});
  NbdTarget target(config_for(server, 1s, 3));
  RingQueues queues(target, target.queues());
  EXPECT_EQ(target.queues(), 3U);
  EXPECT_EQ(server.connections(), 3U);
  Recorder rec;
  std::vector<Io> ios{{ublk::IoOp::kWrite, 0, pattern(8192, 3)}, {ublk::IoOp::kWrite, 65536, pattern(4096, 4)}};
  queues.handle(request_for(ios[0], 0, 2), rec.completion(0));
  queues.handle(request_for(ios[1], 1, 1), rec.completion(1));
  ASSERT_TRUE(rec.wait(2));
  expect_all_ok_once(rec, ios);
  std::vector<std::byte> back(8192);
  server.store().read(0, back.data(), back.size());
  EXPECT_EQ(back, ios[0].data);
}

TEST(NbdTarget, SetupErrorsAreOneLine) {
  NbdTargetConfig c;
  c.endpoint.address = std::get<nbd::Address>(nbd::parse_address("unix:/nonexistent/nbd.sock"));
  EXPECT_THROW(NbdTarget{c}, std::system_error);
  FakeExport ex;
  ex.name = "a";
  Server server(ex);
  NbdTargetConfig other = config_for(server);
  other.endpoint.export_name = "b";
  try {
    NbdTarget target(other);
    FAIL();
  } catch (const nbd::NegotiationError& e) {
    EXPECT_EQ(e.kind(), nbd::NegotiationError::Kind::kUnknownExport);
  }
}

}  // namespace
}  // namespace ublk
