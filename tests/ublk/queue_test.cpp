// A Queue driven through a fake ring (no kernel): the test plays the kernel, completing the
// queue's ublk commands with requests whose descriptors it writes into a memfd that stands in
// for /dev/ublkcN, and reads the commands the queue sends back.
#include "queue.hpp"
#include "fixed_buffer_table.hpp"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <optional>
#include <mutex>
#include <thread>
#include <vector>

#include "fake_ring.hpp"

namespace ublk {
namespace {

using test::FakeRingState;
using test::FakeSqe;

// Thread-safe; counts every release of every buffer and refuses past `limit` buffers out.
class LimitedProvider final : public pool::BufferProvider {
 public:
  explicit LimitedProvider(std::size_t limit = 1000) : limit_(limit) {}
  ~LimitedProvider() override {
    for (auto& [p, n] : out_) std::free(p);
  }
  std::string_view name() const noexcept override { return "limited"; }
  pool::Expected<pool::Buffer> acquire(std::size_t length, std::size_t alignment) noexcept override {
    std::lock_guard lock(mutex_);
    if (fail_all || out_.size() >= limit_) return std::errc::not_enough_memory;
    void* p = std::aligned_alloc(alignment, (length + alignment - 1) / alignment * alignment);
    if (!p) return std::errc::not_enough_memory;
    out_[p] = length;
    ++acquired;
    return pool::Buffer{static_cast<std::byte*>(p), length, length, this, 0};
  }
  std::error_code release(const pool::Buffer& buffer) noexcept override {
    std::lock_guard lock(mutex_);
    auto it = out_.find(buffer.data);
    if (it == out_.end()) {
      ++bad_releases;
      return std::make_error_code(std::errc::invalid_argument);
    }
    out_.erase(it);
    std::free(buffer.data);
    ++released;
    return {};
  }
  std::size_t max_length() const noexcept override { return 1 << 20; }
  std::size_t out() {
    std::lock_guard lock(mutex_);
    return out_.size();
  }

  std::atomic<bool> fail_all{false};
  std::atomic<int> acquired{0}, released{0}, bad_releases{0};

 private:
  std::mutex mutex_;
  std::size_t limit_;
  std::map<void*, std::size_t> out_;
};

// A target whose behaviour each test scripts; called on the queue's thread.
class ScriptTarget final : public Target {
 public:
  std::string_view name() const noexcept override { return "script"; }
  TargetTraits traits() const noexcept override { return traits_; }
  TargetTraits traits_;
  void handle(const Request& request, Completion done) noexcept override { on_handle(request, done); }
  void on_io_complete(QueueContext& queue, unsigned tag, std::uint32_t cookie, int result) noexcept override {
    if (on_io) on_io(queue, tag, cookie, result);
  }
  void on_io_notification(QueueContext& queue, unsigned tag, std::uint32_t cookie, int result) noexcept override {
    if (on_notification) on_notification(queue, tag, cookie, result);
  }
  void on_queue_start(QueueContext& queue) override {
    if (on_start) on_start(queue);
  }
  std::function<void(QueueContext&)> on_start;
  std::function<void(const Request&, Completion)> on_handle = [](const Request& r, Completion done) {
    done(static_cast<int>(r.length));
  };
  std::function<void(QueueContext&, unsigned, std::uint32_t, int)> on_io;
  std::function<void(QueueContext&, unsigned, std::uint32_t, int)> on_notification;
};

constexpr unsigned kDepth = 4;
constexpr std::uint32_t kMaxIo = 64 << 10;

class Harness {
 public:
  explicit Harness(Mode mode, ExhaustionPolicy policy = ExhaustionPolicy::kWait, std::size_t limit = 1000)
      : provider(limit) {
    fd_.reset(::memfd_create("fake-ublkc", MFD_CLOEXEC));
    EXPECT_TRUE(fd_);
    EXPECT_EQ(::ftruncate(fd_.get(), static_cast<off_t>(uapi::desc_array_bytes(kDepth))), 0);
    config.q_id = 0;
    config.depth = kDepth;
    config.max_io = kMaxIo;
    config.char_fd = fd_.get();
    config.mode = mode;
    config.on_exhaustion = policy;
  }
  // own_ios: what the target queues with submit_own from on_queue_start.
  void start(unsigned own_ios = 0) {
    queue = std::make_unique<Queue>(config, provider, target, nullptr, std::make_unique<test::FakeRing>(ring));
    queue->start();
    EXPECT_EQ(ring->count(), kDepth + 1 + own_ios);  // a FETCH_REQ per tag, the eventfd read, the target's own
  }
  ~Harness() { queue.reset(); }

  // The index of the last ublk command sent for `tag`.
  std::size_t last_command(unsigned tag) {
    std::lock_guard lock(ring->mutex);
    for (std::size_t i = ring->submitted.size(); i-- > 0;) {
      const FakeSqe& s = ring->submitted[i];
      if (s.kind == FakeSqe::Kind::kUblk && s.cmd.tag == tag) return i;
    }
    ADD_FAILURE() << "no command for tag " << tag;
    return 0;
  }
  // The kernel completes the tag's outstanding command with a request (res: 0, or
  // UBLK_IO_RES_NEED_GET_DATA for a get_data WRITE).
  void send_request(unsigned tag, uapi::IoOp op, std::uint32_t bytes, std::uint64_t offset = 0, int res = 0,
                    std::uint32_t flags = 0, std::uint64_t addr = 0) {
    ublksrv_io_desc desc{};
    desc.op_flags = static_cast<std::uint32_t>(op) | flags;
    desc.addr = addr;
    desc.nr_sectors = bytes >> 9;
    desc.start_sector = offset >> 9;
    ASSERT_EQ(::pwrite(fd_.get(), &desc, sizeof desc, static_cast<off_t>(tag * sizeof desc)),
              static_cast<ssize_t>(sizeof desc));
    ring->complete(ring->at(last_command(tag)).user_data, res);
  }
  // Waits for the next ublk command `cmd` of `tag` after index `from`.
  std::optional<FakeSqe> wait_command(unsigned tag, uapi::IoCmd cmd, std::size_t from = 0,
                                      std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    const auto op = uapi::encoded(cmd);
    auto at = ring->wait_for(from, [&](const FakeSqe& s) {
      return s.kind == FakeSqe::Kind::kUblk && s.cmd.tag == tag && s.cmd_op == op;
    }, timeout);
    if (!at) return std::nullopt;
    return ring->at(*at);
  }
  std::uint64_t sink_or_zero_check(const FakeSqe& s) const { return s.cmd.addr; }

  std::shared_ptr<FakeRingState> ring = std::make_shared<FakeRingState>();
  LimitedProvider provider;
  ScriptTarget target;
  QueueConfig config;
  std::unique_ptr<Queue> queue;
  int fd() const { return fd_.get(); }

 private:
  UniqueFd fd_;
};

TEST(Queue, TargetIoCompletionsComeBackToTheirRequestAndCookie) {
  Harness h(Mode::kCopy);
  struct Seen {
    unsigned tag;
    std::uint32_t cookie;
    int result;
  };
  std::mutex mutex;
  std::vector<Seen> seen;
  std::map<unsigned, int> sums;
  h.target.on_handle = [](const Request& r, Completion done) {
    RingIo write = RingIo::write(42, r.data, r.offset);
    write.link = true;
    EXPECT_FALSE(done.queue().submit(r.tag, 1, write));
    EXPECT_FALSE(done.queue().submit(r.tag, 2, RingIo::fdatasync(42)));
  };
  h.target.on_io = [&](QueueContext& queue, unsigned tag, std::uint32_t cookie, int result) {
    std::lock_guard lock(mutex);
    seen.push_back({tag, cookie, result});
    sums[tag] += result;
    if (cookie == 2) queue.completion(tag)(sums[tag]);  // the fdatasync finishes the request
  };
  h.start();
  // Live counters read from another thread while the queue works (TSan checks this).
  std::atomic<bool> stop{false};
  std::thread reader([&] {
    while (!stop) (void)h.queue->stats().target_ios;
  });
  h.send_request(0, uapi::IoOp::kWrite, 4096, 0);
  h.send_request(2, uapi::IoOp::kWrite, 8192, 8192);
  auto io_of = [&](unsigned tag, std::uint32_t cookie) {
    auto at = h.ring->wait_for(0, [&](const FakeSqe& s) {
      return s.kind == FakeSqe::Kind::kTargetIo && ((s.user_data >> 32) & 0xffff) == tag &&
             static_cast<std::uint32_t>(s.user_data) == cookie;
    });
    EXPECT_TRUE(at);
    return h.ring->at(at.value_or(0));
  };
  const FakeSqe w0 = io_of(0, 1), s0 = io_of(0, 2), w2 = io_of(2, 1), s2 = io_of(2, 2);
  EXPECT_EQ(w0.io.op, RingIo::Op::kWrite);
  EXPECT_TRUE(w0.io.link);
  EXPECT_EQ(w0.io.length, 4096u);
  EXPECT_EQ(w2.io.offset, 8192u);
  EXPECT_EQ(s2.io.op, RingIo::Op::kFsync);
  EXPECT_EQ(s2.io.flags, RingIo::kDataSync);
  // Out of order, with results that say which IO they were.
  h.ring->complete(w2.user_data, 8192);
  h.ring->complete(w0.user_data, 4096);
  h.ring->complete(s2.user_data, 20);
  h.ring->complete(s0.user_data, 10);
  auto c0 = h.wait_command(0, uapi::IoCmd::kCommitAndFetchReq);
  auto c2 = h.wait_command(2, uapi::IoCmd::kCommitAndFetchReq);
  stop = true;
  reader.join();
  ASSERT_TRUE(c0 && c2);
  EXPECT_EQ(c0->cmd.result, 4096 + 10);
  EXPECT_EQ(c2->cmd.result, 8192 + 20);
  std::lock_guard lock(mutex);
  ASSERT_EQ(seen.size(), 4u);
  EXPECT_EQ(seen[0].tag, 2u);
  EXPECT_EQ(seen[0].cookie, 1u);
  EXPECT_EQ(seen[1].tag, 0u);
  EXPECT_EQ(seen[3].cookie, 2u);
  EXPECT_EQ(h.queue->stats().target_ios, 4u);
}

TEST(Queue, OwnIoBelongsToNoRequestAndComesBackUnderItsOwnTag) {
  Harness h(Mode::kCopy);
  std::mutex mutex;
  std::vector<std::pair<unsigned, std::uint32_t>> seen;
  std::error_code request_tag_refused, off_thread;
  int buffer = 0;
  h.target.on_start = [&](QueueContext& queue) {
    EXPECT_FALSE(queue.submit_own(7, RingIo::recv(3, std::as_writable_bytes(std::span(&buffer, 1)))));
    // kOwnIo is no request's tag: submit() refuses it.
    request_tag_refused = queue.submit(QueueContext::kOwnIo, 1, RingIo::fdatasync(3));
  };
  h.target.on_handle = [&](const Request& r, Completion done) {
    // While a request is in the target, own IO still completes on its own.
    EXPECT_FALSE(done.queue().submit_own(8, RingIo::poll(3, POLLIN)));
    (void)r;
  };
  h.target.on_io = [&](QueueContext& queue, unsigned tag, std::uint32_t cookie, int result) {
    std::lock_guard lock(mutex);
    seen.emplace_back(tag, cookie);
    EXPECT_EQ(result, cookie == 7 ? 4 : 1);
    if (cookie == 8) queue.completion(0)(4096);
  };
  h.start(1);
  EXPECT_EQ(request_tag_refused, std::errc::invalid_argument);
  auto own = [&](std::uint32_t cookie) {
    auto at = h.ring->wait_for(0, [&](const FakeSqe& s) {
      return s.kind == FakeSqe::Kind::kTargetIo && static_cast<std::uint32_t>(s.user_data) == cookie;
    });
    EXPECT_TRUE(at);
    return h.ring->at(at.value_or(0));
  };
  const FakeSqe recv = own(7);
  EXPECT_EQ(recv.io.op, RingIo::Op::kRecv);
  h.send_request(0, uapi::IoOp::kRead, 4096);
  const FakeSqe poll = own(8);
  h.ring->complete(recv.user_data, 4);
  h.ring->complete(poll.user_data, 1);
  auto commit = h.wait_command(0, uapi::IoCmd::kCommitAndFetchReq);
  ASSERT_TRUE(commit);
  EXPECT_EQ(commit->cmd.result, 4096);
  {
    std::lock_guard lock(mutex);
    ASSERT_EQ(seen.size(), 2u);
    EXPECT_EQ(seen[0], std::make_pair(QueueContext::kOwnIo, std::uint32_t{7}));
    EXPECT_EQ(seen[1], std::make_pair(QueueContext::kOwnIo, std::uint32_t{8}));
  }
  EXPECT_EQ(h.queue->stats().double_completions, 0u);
  // Off the queue's thread, the ring is out of reach.
  EXPECT_EQ(h.queue->context().submit_own(9, RingIo::poll(3, POLLIN)), std::errc::operation_not_permitted);
}

TEST(Queue, AZeroCopySendCompletesTwiceAndTheQueueWaitsForItsNotification) {
  Harness h(Mode::kCopy);
  std::mutex mutex;
  std::vector<std::string> seen;
  msghdr message{};
  h.target.on_start = [&](QueueContext& queue) {
    EXPECT_FALSE(queue.submit_own(5, RingIo::sendmsg_zc(3, &message, MSG_NOSIGNAL, true)));
    EXPECT_FALSE(queue.submit_own(6, RingIo::sendmsg_zc(3, &message, MSG_NOSIGNAL)));
  };
  h.target.on_io = [&](QueueContext&, unsigned tag, std::uint32_t cookie, int result) {
    std::lock_guard lock(mutex);
    EXPECT_EQ(tag, QueueContext::kOwnIo);
    seen.push_back("sent " + std::to_string(cookie) + " " + std::to_string(result));
  };
  h.target.on_notification = [&](QueueContext&, unsigned tag, std::uint32_t cookie, int result) {
    std::lock_guard lock(mutex);
    EXPECT_EQ(tag, QueueContext::kOwnIo);
    seen.push_back("notified " + std::to_string(cookie) + " " + std::to_string(result));
  };
  h.start(2);
  auto own = [&](std::uint32_t cookie) {
    auto at = h.ring->wait_for(0, [&](const FakeSqe& s) {
      return s.kind == FakeSqe::Kind::kTargetIo && static_cast<std::uint32_t>(s.user_data) == cookie;
    });
    EXPECT_TRUE(at);
    return h.ring->at(at.value_or(0));
  };
  const FakeSqe reported = own(5), plain = own(6);
  EXPECT_EQ(reported.io.op, RingIo::Op::kSendmsgZc);
  EXPECT_TRUE(reported.io.report_usage);
  EXPECT_EQ(reported.io.msg, &message);
  EXPECT_EQ(reported.io.flags, static_cast<std::uint32_t>(MSG_NOSIGNAL));
  EXPECT_FALSE(plain.io.report_usage);
  h.ring->complete(reported.user_data, 300, Cqe::kMore);
  // Failed before the kernel took a page: no F_MORE, no notification from the kernel.
  h.ring->complete(plain.user_data, -EOPNOTSUPP);
  // The device goes away: every tag's command ends. The queue still waits for cookie 5's notification.
  for (unsigned tag = 0; tag < kDepth; ++tag) h.ring->complete(h.ring->at(h.last_command(tag)).user_data, uapi::kIoResAbort);
  EXPECT_FALSE(h.queue->wait_finished(std::chrono::milliseconds(200)));
  h.ring->complete(reported.user_data, static_cast<int>(RingIo::kZeroCopyCopied), Cqe::kNotification);
  ASSERT_TRUE(h.queue->wait_finished(std::chrono::seconds(5)));
  std::lock_guard lock(mutex);
  const std::vector<std::string> want = {"sent 5 300", "sent 6 " + std::to_string(-EOPNOTSUPP), "notified 6 0",
                                         "notified 5 " + std::to_string(static_cast<int>(RingIo::kZeroCopyCopied))};
  EXPECT_EQ(seen, want);
}

TEST(Queue, CopyModeTagKeepsItsOwnBufferAndCannotHandItOff) {
  Harness h(Mode::kCopy);
  bool took = true;
  h.target.on_handle = [&](const Request& r, Completion done) {
    took = static_cast<bool>(done.take_buffer());
    std::memset(r.data.data(), 0x3c, r.data.size());
    done(static_cast<int>(r.length));
  };
  h.start();
  EXPECT_EQ(h.provider.out(), kDepth);  // each tag's buffer, from FETCH on
  const std::uint64_t fetch_addr = h.ring->at(h.last_command(1)).cmd.addr;
  EXPECT_NE(fetch_addr, 0u);
  h.send_request(1, uapi::IoOp::kWrite, 4096);
  auto commit = h.wait_command(1, uapi::IoCmd::kCommitAndFetchReq);
  ASSERT_TRUE(commit);
  EXPECT_FALSE(took);
  EXPECT_EQ(commit->cmd.addr, fetch_addr);
  EXPECT_EQ(commit->cmd.result, 4096);
  h.queue.reset();
  EXPECT_EQ(h.provider.out(), 0u);
  EXPECT_EQ(h.provider.bad_releases, 0);
}

TEST(Queue, GetDataWriteGetsItsBufferAtNeedGetDataAndAReadCommitsItsBuffer) {
  Harness h(Mode::kGetData);
  std::vector<std::byte> seen;
  h.target.on_handle = [&](const Request& r, Completion done) {
    if (r.op == uapi::IoOp::kWrite) seen.assign(r.data.begin(), r.data.end());
    if (r.op == uapi::IoOp::kRead) std::memset(r.data.data(), 0x77, r.data.size());
    done(static_cast<int>(r.length));
  };
  h.start();
  EXPECT_EQ(h.provider.out(), 0u);
  const std::uint64_t sink = h.ring->at(h.last_command(0)).cmd.addr;
  h.send_request(0, uapi::IoOp::kWrite, 8192, 0, uapi::kIoResNeedGetData);
  auto need = h.wait_command(0, uapi::IoCmd::kNeedGetData);
  ASSERT_TRUE(need);
  ASSERT_NE(need->cmd.addr, sink);
  std::memset(reinterpret_cast<void*>(need->cmd.addr), 0x5e, 8192);  // the kernel's copy
  h.ring->complete(need->user_data, 0);
  auto commit = h.wait_command(0, uapi::IoCmd::kCommitAndFetchReq);
  ASSERT_TRUE(commit);
  EXPECT_EQ(commit->cmd.addr, sink);  // the WRITE buffer went back before the commit
  ASSERT_EQ(seen.size(), 8192u);
  EXPECT_EQ(seen[100], std::byte{0x5e});
  EXPECT_EQ(h.provider.released, 1);

  h.send_request(1, uapi::IoOp::kRead, 4096);
  auto read_commit = h.wait_command(1, uapi::IoCmd::kCommitAndFetchReq);
  ASSERT_TRUE(read_commit);
  EXPECT_NE(read_commit->cmd.addr, sink);
  EXPECT_EQ(*reinterpret_cast<const unsigned char*>(read_commit->cmd.addr), 0x77);
  const auto stats = h.queue->stats();
  EXPECT_EQ(stats.get_data, 1u);
  EXPECT_EQ(stats.writes, 1u);
  EXPECT_EQ(stats.reads, 1u);
  h.queue.reset();
  EXPECT_EQ(h.provider.out(), 0u);
  EXPECT_EQ(h.provider.bad_releases, 0);
}

TEST(Queue, UserCopyReadsWriteDataFromTheCharDeviceAndWritesReadDataBack) {
  Harness h(Mode::kUserCopy);
  std::vector<std::byte> seen;
  h.target.on_handle = [&](const Request& r, Completion done) {
    if (r.op == uapi::IoOp::kWrite) seen.assign(r.data.begin(), r.data.end());
    if (r.op == uapi::IoOp::kRead) std::memset(r.data.data(), 0x21, r.data.size());
    done(static_cast<int>(r.length));
  };
  h.start();
  std::vector<std::byte> pattern(4096, std::byte{0x9a});
  ASSERT_EQ(::pwrite(h.fd(), pattern.data(), pattern.size(), static_cast<off_t>(uapi::user_copy_offset(0, 3))), 4096);
  h.send_request(3, uapi::IoOp::kWrite, 4096);
  auto commit = h.wait_command(3, uapi::IoCmd::kCommitAndFetchReq);
  ASSERT_TRUE(commit);
  EXPECT_EQ(commit->cmd.addr, 0u);
  EXPECT_EQ(seen, pattern);
  h.send_request(2, uapi::IoOp::kRead, 4096);
  ASSERT_TRUE(h.wait_command(2, uapi::IoCmd::kCommitAndFetchReq));
  std::vector<std::byte> back(4096);
  ASSERT_EQ(::pread(h.fd(), back.data(), back.size(), static_cast<off_t>(uapi::user_copy_offset(0, 2))), 4096);
  EXPECT_EQ(back[0], std::byte{0x21});
  EXPECT_EQ(h.provider.out(), 0u);  // both buffers went back as soon as the data moved
}

TEST(Queue, ZeroCopyNamesEachTagsTableSlotInItsCommandSqesAndTakesNoBuffer) {
  Harness h(Mode::kZeroCopy);
  std::vector<Request> seen;
  h.target.on_handle = [&](const Request& r, Completion done) {
    seen.push_back(r);
    done(r.op == uapi::IoOp::kFlush ? 0 : static_cast<int>(r.length));
  };
  h.start();
  {
    std::lock_guard lock(h.ring->mutex);
    EXPECT_EQ(h.ring->sparse_slots, kDepth);  // one slot per tag
    EXPECT_EQ(h.ring->buffers_registered, 0u);
  }
  for (unsigned tag = 0; tag < kDepth; ++tag) {
    const FakeSqe fetch = h.ring->at(h.last_command(tag));
    EXPECT_EQ(fetch.sqe_addr, uapi::auto_buf_reg_addr(static_cast<std::uint16_t>(tag)));
    EXPECT_EQ(fetch.cmd.addr, 0u);  // the slot rides in the SQE, not in the command
  }
  h.send_request(3, uapi::IoOp::kWrite, 8192, 4096);
  auto commit = h.wait_command(3, uapi::IoCmd::kCommitAndFetchReq);
  ASSERT_TRUE(commit);
  EXPECT_EQ(commit->cmd.result, 8192);
  EXPECT_EQ(commit->sqe_addr, uapi::auto_buf_reg_addr(3));  // the slot for the tag's next request
  EXPECT_EQ(commit->cmd.addr, 0u);
  h.send_request(1, uapi::IoOp::kRead, 4096);
  ASSERT_TRUE(h.wait_command(1, uapi::IoCmd::kCommitAndFetchReq));
  h.send_request(2, uapi::IoOp::kFlush, 0);
  ASSERT_TRUE(h.wait_command(2, uapi::IoCmd::kCommitAndFetchReq));
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_TRUE(seen[0].data.empty());
  EXPECT_TRUE(seen[0].registered_pages);
  EXPECT_EQ(seen[0].fixed_buffer, 3);
  EXPECT_EQ(seen[1].fixed_buffer, 1);
  EXPECT_FALSE(seen[2].registered_pages);  // no data: nothing registered
  EXPECT_EQ(seen[2].fixed_buffer, -1);
  const auto stats = h.queue->stats();
  EXPECT_EQ(stats.acquires, 0u);
  EXPECT_EQ(stats.kernel_copy_bytes, 0u);
  EXPECT_EQ(stats.zero_copy_ios, 2u);
  EXPECT_EQ(stats.zero_copy_bytes, 8192u + 4096u);
  EXPECT_EQ(h.provider.out(), 0u);
}

TEST(Queue, ZeroCopyFailsARequestWhosePagesWereNotRegistered) {
  Harness h(Mode::kZeroCopy);
  int handled = 0;
  h.target.on_handle = [&](const Request& r, Completion done) {
    ++handled;
    done(static_cast<int>(r.length));
  };
  h.start();
  ublksrv_io_desc desc{};
  desc.op_flags = static_cast<std::uint32_t>(uapi::IoOp::kRead) | uapi::kIoFlagNeedRegBuf;
  desc.nr_sectors = 8;
  ASSERT_EQ(::pwrite(h.fd(), &desc, sizeof desc, 0), static_cast<ssize_t>(sizeof desc));
  h.ring->complete(h.ring->at(h.last_command(0)).user_data, 0);
  auto commit = h.wait_command(0, uapi::IoCmd::kCommitAndFetchReq);
  ASSERT_TRUE(commit);
  EXPECT_EQ(commit->cmd.result, -EIO);
  EXPECT_EQ(handled, 0);
}

TEST(Queue, AFailedProviderFailsTheRequestWithEnomemUnderTheFailPolicy) {
  Harness h(Mode::kGetData, ExhaustionPolicy::kFail);
  h.provider.fail_all = true;
  int handled = 0;
  h.target.on_handle = [&](const Request& r, Completion done) {
    ++handled;
    done(static_cast<int>(r.length));
  };
  h.start();
  h.send_request(0, uapi::IoOp::kRead, 4096);
  auto commit = h.wait_command(0, uapi::IoCmd::kCommitAndFetchReq);
  ASSERT_TRUE(commit);
  EXPECT_EQ(commit->cmd.result, -ENOMEM);
  h.send_request(1, uapi::IoOp::kWrite, 4096, 0, uapi::kIoResNeedGetData);
  auto need = h.wait_command(1, uapi::IoCmd::kNeedGetData);
  ASSERT_TRUE(need);
  h.ring->complete(need->user_data, 0);
  auto write_commit = h.wait_command(1, uapi::IoCmd::kCommitAndFetchReq);
  ASSERT_TRUE(write_commit);
  EXPECT_EQ(write_commit->cmd.result, -ENOMEM);
  EXPECT_EQ(handled, 0);
  const auto stats = h.queue->stats();
  EXPECT_EQ(stats.enomem, 2u);
  EXPECT_EQ(stats.errors, 2u);
  EXPECT_EQ(stats.acquire_failures, 2u);
  EXPECT_EQ(stats.exhaustion_waits, 0u);
}

TEST(Queue, AParkedRequestIsWokenByTheSameQueuesRelease) {
  Harness h(Mode::kGetData, ExhaustionPolicy::kWait, 1);
  std::mutex mutex;
  std::vector<Completion> held;
  h.target.on_handle = [&](const Request&, Completion done) {
    std::lock_guard lock(mutex);
    held.push_back(done);  // completed later, from the test's thread
  };
  h.start();
  h.send_request(0, uapi::IoOp::kWrite, 4096, 0, uapi::kIoResNeedGetData);
  auto need0 = h.wait_command(0, uapi::IoCmd::kNeedGetData);
  ASSERT_TRUE(need0);
  h.ring->complete(need0->user_data, 0);
  h.send_request(1, uapi::IoOp::kWrite, 4096, 0, uapi::kIoResNeedGetData);
  // Tag 1 waits: no NEED_GET_DATA, and no timer but the 10 s deadline.
  EXPECT_FALSE(h.wait_command(1, uapi::IoCmd::kNeedGetData, 0, std::chrono::milliseconds(200)));
  EXPECT_EQ(h.queue->stats().exhaustion_waits, 1u);
  auto timer = h.ring->wait_for(0, [](const FakeSqe& s) { return s.kind == FakeSqe::Kind::kTimeout; });
  ASSERT_TRUE(timer);
  EXPECT_GT(h.ring->at(*timer).after, std::chrono::seconds(9));
  std::size_t from = h.ring->count();
  {
    std::lock_guard lock(mutex);
    ASSERT_EQ(held.size(), 1u);
    held[0](4096);  // tag 0 completes: its buffer goes back on the queue's thread
  }
  auto need1 = h.wait_command(1, uapi::IoCmd::kNeedGetData, from, std::chrono::seconds(2));
  ASSERT_TRUE(need1);
  EXPECT_NE(need1->cmd.addr, 0u);
  h.ring->complete(need1->user_data, 0);
  {
    // Serve tag 1 too, so that its buffer is back before the queue goes.
    for (int i = 0; i < 200; ++i) {
      {
        std::lock_guard lock(mutex);
        if (held.size() == 2) break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    std::lock_guard lock(mutex);
    ASSERT_EQ(held.size(), 2u);
    held[1](4096);
  }
  ASSERT_TRUE(h.wait_command(1, uapi::IoCmd::kCommitAndFetchReq));
  EXPECT_EQ(h.queue->stats().errors, 0u);
}

TEST(Queue, AHandedOffBufferReleasedOnAnotherThreadGoesBackOnceAndWakesAWaiter) {
  Harness h(Mode::kGetData, ExhaustionPolicy::kWait, 1);
  std::mutex mutex;
  pool::OwnedBuffer kept;
  h.target.on_handle = [&](const Request& r, Completion done) {
    std::lock_guard lock(mutex);
    if (!kept) kept = done.take_buffer();
    EXPECT_FALSE(done.take_buffer());  // only once
    done(static_cast<int>(r.length));
  };
  h.start();
  h.send_request(0, uapi::IoOp::kWrite, 4096, 0, uapi::kIoResNeedGetData);
  auto need0 = h.wait_command(0, uapi::IoCmd::kNeedGetData);
  ASSERT_TRUE(need0);
  std::memset(reinterpret_cast<void*>(need0->cmd.addr), 0x11, 4096);
  h.ring->complete(need0->user_data, 0);
  ASSERT_TRUE(h.wait_command(0, uapi::IoCmd::kCommitAndFetchReq));
  {
    std::lock_guard lock(mutex);
    ASSERT_TRUE(kept);
    EXPECT_EQ(kept.data()[4095], std::byte{0x11});  // the data stays the target's after the commit
  }
  EXPECT_EQ(h.provider.released, 0);
  auto stats = h.queue->stats();
  EXPECT_EQ(stats.handed_off, 1u);
  EXPECT_EQ(stats.buffers_held(), 1u);

  // The only buffer is held: the next WRITE waits for it.
  h.send_request(1, uapi::IoOp::kWrite, 4096, 0, uapi::kIoResNeedGetData);
  EXPECT_FALSE(h.wait_command(1, uapi::IoCmd::kNeedGetData, 0, std::chrono::milliseconds(200)));
  const std::size_t from = h.ring->count();
  std::thread other([&] {
    std::lock_guard lock(mutex);
    kept.reset();
    kept.reset();  // a second drop is a no-op
  });
  other.join();
  auto need1 = h.wait_command(1, uapi::IoCmd::kNeedGetData, from, std::chrono::seconds(2));
  ASSERT_TRUE(need1);
  h.ring->complete(need1->user_data, 0);
  ASSERT_TRUE(h.wait_command(1, uapi::IoCmd::kCommitAndFetchReq));
  stats = h.queue->stats();
  EXPECT_EQ(stats.handed_back, 1u);
  EXPECT_EQ(stats.exhaustion_waits, 1u);
  {
    std::lock_guard lock(mutex);
    kept.reset();  // tag 1's buffer, taken too
  }
  h.queue.reset();
  EXPECT_EQ(h.provider.out(), 0u);
  EXPECT_EQ(h.provider.bad_releases, 0);
  EXPECT_EQ(h.provider.released, h.provider.acquired);
}

TEST(Queue, ADoubleCompletionIsCountedAndTheQueueGoesOn) {
  Harness h(Mode::kGetData);
  h.target.on_handle = [](const Request& r, Completion done) {
    done(static_cast<int>(r.length));
    done(-EIO);  // a target bug
  };
  h.start();
  h.send_request(2, uapi::IoOp::kRead, 4096);
  auto first = h.wait_command(2, uapi::IoCmd::kCommitAndFetchReq);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->cmd.result, 4096);
  const std::size_t from = h.ring->count();
  h.send_request(2, uapi::IoOp::kRead, 8192);
  auto second = h.wait_command(2, uapi::IoCmd::kCommitAndFetchReq, from);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->cmd.result, 8192);
  EXPECT_EQ(h.ring->wait_for(from + 1, [](const FakeSqe& s) {
    return s.kind == FakeSqe::Kind::kUblk && s.cmd.tag == 2;
  }, std::chrono::milliseconds(100)), std::nullopt);  // one commit per request, no more
  const auto stats = h.queue->stats();
  EXPECT_EQ(stats.double_completions, 2u);
  EXPECT_EQ(stats.errors, 0u);
}

TEST(Queue, ATargetWithABackendIsTimedFromHandleToCompletion) {
  Harness h(Mode::kGetData);
  h.config.time_backend = true;
  std::mutex mutex;
  std::vector<Completion> later;
  h.target.on_handle = [&](const Request&, Completion done) {
    std::lock_guard lock(mutex);
    later.push_back(std::move(done));
  };
  h.start();
  h.send_request(1, uapi::IoOp::kRead, 4096);
  for (int i = 0; i < 500; ++i) {
    {
      std::lock_guard lock(mutex);
      if (!later.empty()) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(5));  // the backend takes its time
  {
    std::lock_guard lock(mutex);
    ASSERT_EQ(later.size(), 1u);
    later[0](4096);  // from this thread, as a backend's own thread would
  }
  ASSERT_TRUE(h.wait_command(1, uapi::IoCmd::kCommitAndFetchReq));
  const auto stats = h.queue->stats();
  EXPECT_EQ(stats.backend_latency_us.total(), 1u);
  EXPECT_GE(stats.backend_latency_ns, 5'000'000u);
  EXPECT_GE(LatencyHistogram::upper_bound(stats.backend_latency_us.quantile_bucket(1.0)), 5000u);
}

TEST(Queue, AnUntimedTargetPaysNoClock) {
  Harness h(Mode::kGetData);  // time_backend off, as for null and mem
  h.start();
  h.send_request(1, uapi::IoOp::kRead, 4096);
  ASSERT_TRUE(h.wait_command(1, uapi::IoCmd::kCommitAndFetchReq));
  EXPECT_EQ(h.queue->stats().backend_latency_us.total(), 0u);
  EXPECT_EQ(h.queue->stats().reads, 1u);
}

// UBLK_F_SHMEM_ZC: the kernel flags a request whose pages lie in registered shared memory and
// names (index, offset) in its descriptor's addr.
TEST(Queue, ARequestInSharedMemoryIsServedInPlaceInEveryMode) {
  for (const Mode mode : {Mode::kCopy, Mode::kGetData, Mode::kUserCopy}) {
    SCOPED_TRACE(std::string(to_string(mode)));
    std::vector<std::byte> shared(1 << 20);
    SharedMemoryTable table;
    ASSERT_TRUE(table.publish(1, {shared.data(), shared.size()}));  // REG_BUF answered index 1
    Harness h(mode);
    h.config.shared_memory = &table;
    const std::byte* seen = nullptr;
    bool said_shared = false;
    bool handed_a_buffer = false;
    h.target.on_handle = [&](const Request& r, Completion done) {
      seen = r.data.data();
      said_shared = r.in_shared_memory;
      handed_a_buffer = static_cast<bool>(done.take_buffer());
      EXPECT_EQ(r.data.size(), r.length);
      done(static_cast<int>(r.length));
    };
    h.start();
    const int acquired_at_start = h.provider.acquired;  // copy mode's per-tag buffers
    const std::uint64_t fetch_addr = h.ring->at(h.last_command(0)).cmd.addr;
    const std::uint64_t at = (std::uint64_t{1} << 32) | 0x3000;
    const int res = mode == Mode::kGetData ? uapi::kIoResNeedGetData : 0;
    h.send_request(0, uapi::IoOp::kWrite, 8192, 0, res, uapi::kIoFlagShmemZc, at);
    if (mode == Mode::kGetData) {
      auto need = h.wait_command(0, uapi::IoCmd::kNeedGetData);
      ASSERT_TRUE(need);
      EXPECT_EQ(need->cmd.addr, reinterpret_cast<std::uintptr_t>(shared.data() + 0x3000));
      h.ring->complete(need->user_data, 0);
    }
    auto commit = h.wait_command(0, uapi::IoCmd::kCommitAndFetchReq);
    ASSERT_TRUE(commit);
    // What the commit names: copy the tag's own buffer (its FETCH address), get_data the span it
    // answered NEED_GET_DATA with, user_copy nothing.
    const std::uint64_t in_place = reinterpret_cast<std::uintptr_t>(shared.data() + 0x3000);
    EXPECT_EQ(commit->cmd.addr, mode == Mode::kCopy ? fetch_addr : mode == Mode::kGetData ? in_place : 0u);
    EXPECT_EQ(seen, shared.data() + 0x3000);
    EXPECT_TRUE(said_shared);  // the target must copy what it keeps
    EXPECT_FALSE(handed_a_buffer);
    h.send_request(1, uapi::IoOp::kRead, 4096, 0, 0, uapi::kIoFlagShmemZc, (std::uint64_t{1} << 32) | 0x8000);
    ASSERT_TRUE(h.wait_command(1, uapi::IoCmd::kCommitAndFetchReq));
    EXPECT_EQ(seen, shared.data() + 0x8000);
    h.send_request(2, uapi::IoOp::kRead, 4096);  // not in shared memory: the mode's own way
    ASSERT_TRUE(h.wait_command(2, uapi::IoCmd::kCommitAndFetchReq));
    EXPECT_NE(seen, shared.data() + 0x8000);
    EXPECT_FALSE(said_shared);
    const auto stats = h.queue->stats();
    EXPECT_EQ(stats.shmem_zc_ios, 2u);
    EXPECT_EQ(stats.shmem_zc_bytes, 8192u + 4096u);
    EXPECT_EQ(stats.shmem_fallback_ios, 1u);
    EXPECT_EQ(stats.errors, 0u);
    // No buffer for the two in shared memory; the fallback READ takes one in get_data/user_copy.
    EXPECT_EQ(h.provider.acquired - acquired_at_start, mode == Mode::kCopy ? 0 : 1);
  }
}

// A client's arena goes away while a request is served from it: its owner waits until the
// target has completed that request, and a request after the withdrawal is not served from it.
TEST(Queue, WithdrawnSharedMemoryIsIdleOnlyOnceItsRequestCompleted) {
  std::vector<std::byte> shared(1 << 20);
  SharedMemoryTable table;
  ASSERT_TRUE(table.publish(2, {shared.data(), shared.size()}));
  Harness h(Mode::kUserCopy);
  h.config.shared_memory = &table;
  std::optional<Completion> held;
  std::atomic<int> handled{0};
  h.target.on_handle = [&](const Request& r, Completion done) {
    if (r.data.data() == shared.data() + 0x4000) {
      held.emplace(done);
    } else {
      done(static_cast<int>(r.length));
    }
    handled.fetch_add(1);
  };
  h.start();
  h.send_request(0, uapi::IoOp::kWrite, 4096, 0, 0, uapi::kIoFlagShmemZc, (std::uint64_t{2} << 32) | 0x4000);
  for (int i = 0; i < 2000 && handled.load() == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  ASSERT_EQ(handled.load(), 1);
  EXPECT_EQ(table.holders(2), 1u);
  table.withdraw(2);
  EXPECT_FALSE(table.wait_idle(2, std::chrono::milliseconds(20)));  // the target still has it
  std::atomic<bool> idle{false};
  std::thread owner([&] { idle.store(table.wait_idle(2, std::chrono::seconds(10))); });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_FALSE(idle.load());
  (*held)(4096);
  owner.join();
  EXPECT_TRUE(idle.load());
  ASSERT_TRUE(h.wait_command(0, uapi::IoCmd::kCommitAndFetchReq));
  h.send_request(1, uapi::IoOp::kRead, 4096, 0, 0, uapi::kIoFlagShmemZc, (std::uint64_t{2} << 32) | 0x4000);
  auto commit = h.wait_command(1, uapi::IoCmd::kCommitAndFetchReq);
  ASSERT_TRUE(commit);
  EXPECT_EQ(commit->cmd.result, -EIO);  // withdrawn: never served from the old mapping
  EXPECT_EQ(table.holders(2), 0u);
}

// A target that does fixed-buffer IO (the loop target) gets the shared regions in its ring's
// table, behind the pool's regions, and a request in shared memory names its region's slot.
TEST(Queue, SharedMemoryIsInTheFixedBufferTableForATargetThatUsesIt) {
  std::vector<std::byte> shared(1 << 20);
  Harness h(Mode::kUserCopy);
  h.target.traits_.fixed_buffers = true;
  SharedMemoryTable table;
  ASSERT_TRUE(table.publish(1, {shared.data(), shared.size()}));  // REG_BUF answered index 1
  h.config.shared_memory = &table;
  h.config.fixed_shared_memory = {{}, {shared.data(), shared.size()}};
  std::vector<Request> seen;
  h.target.on_handle = [&](const Request& r, Completion done) {
    seen.push_back(r);
    done(static_cast<int>(r.length));
  };
  h.start();
  {
    std::lock_guard lock(h.ring->mutex);
    ASSERT_EQ(h.ring->buffer_table.size(), 2u);  // no pool regions here: the shared ones from slot 0
    EXPECT_EQ(h.ring->buffer_table[0].iov_base, nullptr);  // index 0 unused: a sparse entry
    EXPECT_EQ(h.ring->buffer_table[1].iov_base, shared.data());
    EXPECT_EQ(h.ring->buffer_table[1].iov_len, shared.size());
  }
  h.send_request(0, uapi::IoOp::kWrite, 4096, 0, 0, uapi::kIoFlagShmemZc, (std::uint64_t{1} << 32) | 0x2000);
  ASSERT_TRUE(h.wait_command(0, uapi::IoCmd::kCommitAndFetchReq));
  h.send_request(1, uapi::IoOp::kRead, 4096);  // not in shared memory, and no pool regions
  ASSERT_TRUE(h.wait_command(1, uapi::IoCmd::kCommitAndFetchReq));
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].data.data(), shared.data() + 0x2000);
  EXPECT_EQ(seen[0].fixed_buffer, 1);
  EXPECT_EQ(seen[1].fixed_buffer, -1);
}

TEST(Queue, SharedMemoryStaysOutOfTheTableOfATargetWithoutFixedBufferIo) {
  std::vector<std::byte> shared(1 << 20);
  Harness h(Mode::kCopy);
  SharedMemoryTable table;
  ASSERT_TRUE(table.publish(0, {shared.data(), shared.size()}));
  h.config.shared_memory = &table;
  h.config.fixed_shared_memory = {{shared.data(), shared.size()}};
  std::vector<Request> seen;
  h.target.on_handle = [&](const Request& r, Completion done) {
    seen.push_back(r);
    done(static_cast<int>(r.length));
  };
  h.start();
  {
    std::lock_guard lock(h.ring->mutex);
    EXPECT_TRUE(h.ring->buffer_table.empty());
  }
  h.send_request(0, uapi::IoOp::kWrite, 4096, 0, 0, uapi::kIoFlagShmemZc, 0);
  ASSERT_TRUE(h.wait_command(0, uapi::IoCmd::kCommitAndFetchReq));
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].fixed_buffer, -1);
}

TEST(FixedBufferTable, PutsTheSharedRegionsBehindTheBaseAndSkipsUnusableOnes) {
  std::vector<std::byte> a(4096), b(8192);
  const std::span<std::byte> huge(b.data(), kMaxFixedBufferBytes + 1);  // never touched
  const std::vector<std::span<std::byte>> shared{a, {}, huge, b};
  const FixedBufferTable table(16, shared);  // e.g. 16 pool regions, or zero_copy's 16 tags
  EXPECT_EQ(table.shared_base(), 16u);
  ASSERT_EQ(table.shared_entries().size(), 4u);
  EXPECT_EQ(table.shared_slot(0), 16u);
  EXPECT_EQ(table.shared_slot(1), std::nullopt);  // no region at REG_BUF index 1
  EXPECT_EQ(table.shared_slot(2), std::nullopt);  // beyond io_uring's 1 GiB per buffer
  EXPECT_EQ(table.shared_entries()[2].iov_base, nullptr);
  EXPECT_EQ(table.shared_slot(3), 19u);  // keeps its slot behind the unusable ones
  EXPECT_EQ(table.shared_entries()[3].iov_len, b.size());
  EXPECT_EQ(table.shared_slot(4), std::nullopt);
}

TEST(Queue, ARequestFlaggedInUnregisteredMemoryFailsWithEio) {
  std::vector<std::byte> shared(1 << 20);
  SharedMemoryTable table;
  ASSERT_TRUE(table.publish(0, {shared.data(), shared.size()}));
  Harness h(Mode::kGetData);
  h.config.shared_memory = &table;
  bool handled = false;
  h.target.on_handle = [&](const Request& r, Completion done) {
    handled = true;
    done(static_cast<int>(r.length));
  };
  h.start();
  h.send_request(0, uapi::IoOp::kRead, 4096, 0, 0, uapi::kIoFlagShmemZc, std::uint64_t{7} << 32);  // no index 7
  auto commit = h.wait_command(0, uapi::IoCmd::kCommitAndFetchReq);
  ASSERT_TRUE(commit);
  EXPECT_EQ(commit->cmd.result, -EIO);
  const std::uint64_t sink = h.ring->at(h.last_command(1)).cmd.addr;  // get_data's FETCH address
  h.send_request(1, uapi::IoOp::kWrite, 4096, (1 << 20) - 2048, uapi::kIoResNeedGetData, uapi::kIoFlagShmemZc,
                 (1 << 20) - 2048);  // runs past the end of index 0
  auto need = h.wait_command(1, uapi::IoCmd::kNeedGetData);
  ASSERT_TRUE(need);
  EXPECT_EQ(need->cmd.addr, sink);  // never the daemon's own memory
  h.ring->complete(need->user_data, 0);
  auto write_commit = h.wait_command(1, uapi::IoCmd::kCommitAndFetchReq);
  ASSERT_TRUE(write_commit);
  EXPECT_EQ(write_commit->cmd.result, -EIO);
  EXPECT_FALSE(handled);
  EXPECT_EQ(h.queue->stats().shmem_zc_ios, 0u);
}

TEST(Queue, AThreadThatDiesSaysWhy) {
  Harness h(Mode::kGetData);
  h.start();
  EXPECT_FALSE(h.queue->wait_finished(std::chrono::milliseconds(0)));
  {
    std::lock_guard lock(h.ring->mutex);
    h.ring->fail_wait = -EFAULT;
    h.ring->changed.notify_all();
  }
  ASSERT_TRUE(h.queue->wait_finished(std::chrono::seconds(5)));
  EXPECT_NE(h.queue->failure().find("io_uring_enter"), std::string::npos) << h.queue->failure();
}

}  // namespace
}  // namespace ublk
