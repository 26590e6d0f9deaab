// LoopTarget against a fake queue ring that performs each RingIo with the plain syscall and
// hands its CQE back on the next drain(), as the queue's thread would.
#include "loop_target.hpp"

#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <span>
#include <string>
#include <vector>

namespace ublk {
namespace {

struct Submitted {
  unsigned tag;
  std::uint32_t cookie;
  RingIo io;
};

class FakeQueue final : public QueueContext, public RequestOwner {
 public:
  unsigned id() const noexcept override { return 0; }
  std::error_code submit(unsigned tag, std::uint32_t cookie, const RingIo& io) noexcept override {
    submitted.push_back({tag, cookie, io});
    pending_.push_back({tag, cookie, io});
    return {};
  }
  std::error_code submit_own(std::uint32_t cookie, const RingIo& io) noexcept override {
    return submit(kOwnIo, cookie, io);
  }
  int register_files(std::span<const int> fds) noexcept override {
    const int first = static_cast<int>(files.size());
    files.insert(files.end(), fds.begin(), fds.end());
    return first;
  }
  Completion completion(unsigned tag) noexcept override { return Completion(*this, tag, 0); }
  void complete(unsigned tag, std::uint32_t, int result, std::uint64_t) noexcept override { results[tag].push_back(result); }
  pool::OwnedBuffer take_buffer(unsigned, std::uint32_t) noexcept override { return {}; }
  QueueContext& context() noexcept override { return *this; }

  // Runs every queued IO and delivers its CQE; a broken link cancels the IO after it.
  void drain(Target& target) {
    while (!pending_.empty()) {
      std::deque<Submitted> batch;
      batch.swap(pending_);
      bool cancel = false;
      for (const Submitted& s : batch) {
        int res = cancel ? -ECANCELED : run(s.io);
        cancel = s.io.link && (res < 0 || (is_rw(s.io) && static_cast<std::uint32_t>(res) != s.io.length));
        target.on_io_complete(*this, s.tag, s.cookie, res);
      }
    }
  }

  std::vector<int> files;
  std::vector<Submitted> submitted;
  std::map<unsigned, std::vector<int>> results;
  unsigned short_every = 0;  // > 0: every transfer moves at most this many bytes (short IO)
  // What the kernel would have registered at a buffer-table slot in zero_copy mode.
  std::map<unsigned, std::span<std::byte>> registered;

 private:
  static bool is_rw(const RingIo& io) {
    return io.op == RingIo::Op::kRead || io.op == RingIo::Op::kWrite || io.op == RingIo::Op::kReadFixed ||
           io.op == RingIo::Op::kWriteFixed;
  }
  int run(RingIo io) {
    const int fd = io.fixed_file ? files.at(static_cast<std::size_t>(io.fd)) : io.fd;
    // A kernel-registered buffer (zero_copy): the address is an offset into the request's pages.
    if (auto pages = registered.find(io.buf_index);
        pages != registered.end() && (io.op == RingIo::Op::kReadFixed || io.op == RingIo::Op::kWriteFixed)) {
      const auto from = reinterpret_cast<std::uintptr_t>(io.addr);
      if (from + io.length > pages->second.size()) return -EFAULT;
      io.addr = pages->second.data() + from;
    }
    const std::size_t length = short_every ? std::min<std::size_t>(short_every, io.length) : io.length;
    ssize_t r = 0;
    switch (io.op) {
      case RingIo::Op::kRead:
      case RingIo::Op::kReadFixed: r = ::pread(fd, io.addr, length, static_cast<off_t>(io.offset)); break;
      case RingIo::Op::kWrite:
      case RingIo::Op::kWriteFixed: r = ::pwrite(fd, io.addr, length, static_cast<off_t>(io.offset)); break;
      case RingIo::Op::kFsync: r = ::fdatasync(fd); break;
      case RingIo::Op::kFallocate:
        r = ::fallocate(fd, static_cast<int>(io.flags), static_cast<off_t>(io.offset),
                        static_cast<off_t>(reinterpret_cast<std::uintptr_t>(io.addr)));
        break;
      default: return -EOPNOTSUPP;
    }
    return r < 0 ? -errno : static_cast<int>(r);
  }
  std::deque<Submitted> pending_;
};

class LoopTargetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char name[] = "/tmp/loop_target_test.XXXXXX";
    const int fd = ::mkstemp(name);
    ASSERT_GE(fd, 0);
    ::close(fd);
    path_ = name;
  }
  void TearDown() override { ::unlink(path_.c_str()); }

  LoopTarget make(std::uint64_t size, bool buffered = true) {
    LoopConfig config;
    config.path = path_;
    config.size = size;
    config.buffered = buffered;
    config.depth = 8;
    return LoopTarget(config);
  }
  // Runs one request to its completion; returns its one result.
  int run(LoopTarget& target, ublk::IoOp op, std::uint64_t offset, std::span<std::byte> data, unsigned tag = 0,
          std::uint32_t flags = 0) {
    Request r;
    r.op = op;
    r.flags = flags;
    r.offset = offset;
    r.length = static_cast<std::uint32_t>(data.size());
    r.data = data;
    r.tag = tag;
    queue_.results.erase(tag);
    target.handle(r, Completion(queue_, tag, 0));
    queue_.drain(target);
    EXPECT_EQ(queue_.results[tag].size(), 1u) << "exactly one completion";
    return queue_.results[tag].empty() ? -999 : queue_.results[tag].front();
  }
  static std::uint64_t counter(const LoopTarget& t, std::string_view name) {
    for (const auto& c : t.counters()) {
      if (c.name == name) return c.value;
    }
    return ~std::uint64_t{0};
  }

  std::string path_;
  FakeQueue queue_;
};

TEST_F(LoopTargetTest, SizeComesFromTheFileOrExtendsIt) {
  LoopTarget grown = make(1 << 20);
  EXPECT_EQ(grown.size(), 1u << 20);
  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 1 << 20);
  LoopConfig from_file;
  from_file.path = path_;
  from_file.buffered = true;
  EXPECT_EQ(LoopTarget(from_file).size(), 1u << 20);
  ASSERT_EQ(::truncate(path_.c_str(), 0), 0);
  EXPECT_THROW(LoopTarget{from_file}, std::runtime_error);  // empty and no --size
}

TEST_F(LoopTargetTest, WritesReachTheFileAndReadBack) {
  LoopTarget target = make(1 << 20);
  target.on_queue_start(queue_);
  ASSERT_EQ(queue_.files.size(), 1u);
  std::vector<std::byte> out(8192), in(8192);
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<std::byte>(i * 7 + 1);
  EXPECT_EQ(run(target, ublk::IoOp::kWrite, 4096, out), 8192);
  EXPECT_EQ(run(target, ublk::IoOp::kRead, 4096, in), 8192);
  EXPECT_EQ(in, out);
  ASSERT_FALSE(queue_.submitted.empty());
  EXPECT_TRUE(queue_.submitted.front().io.fixed_file);
  // And in the file itself.
  std::vector<std::byte> file(8192);
  const int fd = ::open(path_.c_str(), O_RDONLY);
  ASSERT_EQ(::pread(fd, file.data(), file.size(), 4096), 8192);
  ::close(fd);
  EXPECT_EQ(file, out);
}

// Data in memory registered in the ring's buffer table (the pool's regions, or an application's
// shared memory): READ_FIXED/WRITE_FIXED at the data's own address, and counted.
TEST_F(LoopTargetTest, DataInAFixedBufferGoesByReadFixedAndWriteFixed) {
  LoopTarget target = make(1 << 20);
  target.on_queue_start(queue_);
  std::vector<std::byte> shared(8192), back(4096);
  for (std::size_t i = 0; i < shared.size(); ++i) shared[i] = static_cast<std::byte>(i * 11 + 2);
  auto fixed = [&](ublk::IoOp op, std::span<std::byte> data) {
    Request r;
    r.op = op;
    r.offset = 12288;
    r.length = static_cast<std::uint32_t>(data.size());
    r.data = data;
    r.fixed_buffer = 9;
    r.in_shared_memory = true;
    queue_.results.erase(0);
    queue_.submitted.clear();
    target.handle(r, Completion(queue_, 0, 0));
    queue_.drain(target);
    return queue_.results[0].size() == 1 ? queue_.results[0].front() : -999;
  };
  EXPECT_EQ(fixed(ublk::IoOp::kWrite, std::span(shared).subspan(4096)), 4096);
  ASSERT_EQ(queue_.submitted.size(), 1u);
  EXPECT_EQ(queue_.submitted[0].io.op, RingIo::Op::kWriteFixed);
  EXPECT_EQ(queue_.submitted[0].io.buf_index, 9u);
  EXPECT_EQ(queue_.submitted[0].io.addr, static_cast<void*>(shared.data() + 4096));
  EXPECT_EQ(fixed(ublk::IoOp::kRead, back), 4096);
  EXPECT_EQ(queue_.submitted[0].io.op, RingIo::Op::kReadFixed);
  EXPECT_TRUE(std::equal(back.begin(), back.end(), shared.begin() + 4096));
  EXPECT_EQ(counter(target, "fixed_buffer_ios"), 2u);
  EXPECT_EQ(run(target, ublk::IoOp::kWrite, 0, back), 4096);  // no fixed buffer: plain WRITE
  EXPECT_EQ(counter(target, "fixed_buffer_ios"), 2u);
}

TEST_F(LoopTargetTest, ShortTransfersAreIssuedAgainForTheRest) {
  LoopTarget target = make(1 << 20);
  target.on_queue_start(queue_);
  queue_.short_every = 1000;
  std::vector<std::byte> out(4096, std::byte{0x5a}), in(4096);
  EXPECT_EQ(run(target, ublk::IoOp::kWrite, 0, out), 4096);
  EXPECT_EQ(queue_.submitted.size(), 5u);  // 1000 + 1000 + 1000 + 1000 + 96
  EXPECT_EQ(run(target, ublk::IoOp::kRead, 0, in), 4096);
  EXPECT_EQ(in, out);
}

TEST_F(LoopTargetTest, ZeroCopyAddressesTheRegisteredPagesByOffsetAcrossShortTransfers) {
  LoopTarget target = make(1 << 20);
  EXPECT_TRUE(target.traits().zero_copy);
  target.on_queue_start(queue_);
  std::vector<std::byte> pages(4096), back(4096);
  for (std::size_t i = 0; i < pages.size(); ++i) pages[i] = static_cast<std::byte>(i * 13 + 5);
  queue_.registered[5] = pages;
  queue_.short_every = 1500;
  auto zero_copy = [&](ublk::IoOp op, std::uint64_t offset) {
    Request r;
    r.op = op;
    r.offset = offset;
    r.length = 4096;
    r.fixed_buffer = 5;
    r.registered_pages = true;
    r.tag = 2;
    queue_.results.erase(2);
    target.handle(r, Completion(queue_, 2, 0));
    queue_.drain(target);
    return queue_.results[2].size() == 1 ? queue_.results[2].front() : -999;
  };
  EXPECT_EQ(zero_copy(ublk::IoOp::kWrite, 8192), 4096);
  ASSERT_EQ(queue_.submitted.size(), 3u);  // 1500 + 1500 + 1096, each at its offset into the pages
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(queue_.submitted[i].io.op, RingIo::Op::kWriteFixed);
    EXPECT_EQ(queue_.submitted[i].io.buf_index, 5u);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(queue_.submitted[i].io.addr), 1500 * i);
  }
  const int fd = ::open(path_.c_str(), O_RDONLY);
  ASSERT_EQ(::pread(fd, back.data(), back.size(), 8192), 4096);
  ::close(fd);
  EXPECT_EQ(back, pages);
  const std::vector<std::byte> written = pages;
  std::fill(pages.begin(), pages.end(), std::byte{0});
  EXPECT_EQ(zero_copy(ublk::IoOp::kRead, 8192), 4096);
  EXPECT_EQ(pages, written);
  EXPECT_EQ(zero_copy(ublk::IoOp::kRead, (1 << 20) - 2048), -EIO);  // out of range, no IO
}

TEST_F(LoopTargetTest, FuaWriteIsFollowedByALinkedFdatasync) {
  LoopTarget target = make(1 << 20);
  target.on_queue_start(queue_);
  std::vector<std::byte> out(4096, std::byte{1});
  EXPECT_EQ(run(target, ublk::IoOp::kWrite, 0, out, 3, ublk::kIoFlagFua), 4096);
  ASSERT_EQ(queue_.submitted.size(), 2u);
  EXPECT_TRUE(queue_.submitted[0].io.link);
  EXPECT_EQ(queue_.submitted[1].io.op, RingIo::Op::kFsync);
  EXPECT_EQ(queue_.submitted[1].io.flags, RingIo::kDataSync);
  EXPECT_EQ(counter(target, "fdatasyncs"), 1u);

  // A short FUA write: the linked sync is cancelled, the rest is written and synced again.
  queue_.submitted.clear();
  queue_.short_every = 3000;
  EXPECT_EQ(run(target, ublk::IoOp::kWrite, 0, out, 3, ublk::kIoFlagFua), 4096);
  EXPECT_EQ(queue_.submitted.size(), 4u);
  EXPECT_EQ(counter(target, "fdatasyncs"), 2u);
}

TEST_F(LoopTargetTest, FlushIsOneFdatasync) {
  LoopTarget target = make(1 << 20);
  target.on_queue_start(queue_);
  EXPECT_EQ(run(target, ublk::IoOp::kFlush, ~std::uint64_t{0} << 9, {}), 0);  // the block layer's sector -1
  EXPECT_EQ(run(target, ublk::IoOp::kFlush, 0, {}), 0);
  EXPECT_EQ(counter(target, "fdatasyncs"), 2u);
  EXPECT_TRUE(target.traits().volatile_cache);
  EXPECT_TRUE(target.traits().fua);
}

TEST_F(LoopTargetTest, DiscardReadsBackZeroesWhereOffered) {
  LoopTarget target = make(1 << 20);
  target.on_queue_start(queue_);
  std::vector<std::byte> out(65536, std::byte{0x77}), in(65536, std::byte{1});
  ASSERT_EQ(run(target, ublk::IoOp::kWrite, 0, out), 65536);
  Request r;
  r.op = ublk::IoOp::kDiscard;
  r.offset = 0;
  r.length = 65536;
  r.tag = 1;
  target.handle(r, Completion(queue_, 1, 0));
  queue_.drain(target);
  ASSERT_EQ(queue_.results[1].size(), 1u);
  if (target.traits().max_discard_bytes == 0) {
    EXPECT_EQ(queue_.results[1][0], -EOPNOTSUPP);  // not offered, not advertised
    return;
  }
  EXPECT_EQ(queue_.results[1][0], 0);
  ASSERT_EQ(run(target, ublk::IoOp::kRead, 0, in), 65536);
  EXPECT_EQ(in, std::vector<std::byte>(65536, std::byte{0}));
}

TEST_F(LoopTargetTest, OutOfRangeFailsWithoutIo) {
  LoopTarget target = make(1 << 20);
  target.on_queue_start(queue_);
  std::vector<std::byte> data(4096);
  EXPECT_EQ(run(target, ublk::IoOp::kRead, (1 << 20) - 2048, data), -EIO);
  EXPECT_TRUE(queue_.submitted.empty());
}

}  // namespace
}  // namespace ublk
