// The buffer modes' release points and failure paths, against a counting provider (no kernel:
// the addresses the strategies hand out are checked, and user_copy's pread/pwrite go to a
// sparse temp file at the same offsets /dev/ublkcN uses).
#include "buffer_strategy.hpp"

#include "poisoning_provider.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <set>
#include <vector>

namespace ublk {
namespace {

class CountingProvider final : public pool::BufferProvider {
 public:
  std::string_view name() const noexcept override { return "counting"; }
  pool::Expected<pool::Buffer> acquire(std::size_t length, std::size_t alignment) noexcept override {
    if (fail_next || length > max_length()) {
      fail_next = false;
      return std::errc::not_enough_memory;
    }
    void* p = std::aligned_alloc(alignment, (length + alignment - 1) / alignment * alignment);
    if (!p) return std::errc::not_enough_memory;
    out.insert(p);
    return pool::Buffer{static_cast<std::byte*>(p), length, length, this, 0};
  }
  std::error_code release(const pool::Buffer& buffer) noexcept override {
    if (!out.erase(buffer.data)) return std::make_error_code(std::errc::invalid_argument);
    last_released_bytes.assign(buffer.data, buffer.data + buffer.length);
    std::free(buffer.data);
    return {};
  }
  std::size_t max_length() const noexcept override { return 1 << 20; }

  bool fail_next = false;
  std::set<void*> out;
  std::vector<std::byte> last_released_bytes;
};

ublksrv_io_desc desc(uapi::IoOp op, std::uint32_t bytes) {
  ublksrv_io_desc d{};
  d.op_flags = static_cast<std::uint32_t>(op);
  d.nr_sectors = bytes >> 9;
  return d;
}

class StrategyTest : public ::testing::Test {
 protected:
  StrategyTest() : sink(1 << 20), cache(provider.make_cache()) {
    res.q_id = 1;
    res.max_io = 1 << 20;
    res.cache = cache.get();
    res.sink = sink.data();
    res.stats = &stats;
    res.release_after_submit = &later;
  }
  std::uint64_t sink_addr() const { return reinterpret_cast<std::uintptr_t>(sink.data()); }

  CountingProvider provider;
  std::vector<std::byte> sink;
  std::unique_ptr<pool::BufferCache> cache;
  IoStats stats;
  std::vector<pool::Buffer> later;
  QueueResources res;
};

TEST_F(StrategyTest, GetDataWriteGetsExactlyItsLengthAndReturnsItBeforeTheCommit) {
  auto s = make_strategy(Mode::kGetData, res);
  TagSlot slot;
  EXPECT_EQ(s->fetch_address(slot), sink_addr());  // non-NULL, yet no buffer is committed
  EXPECT_TRUE(provider.out.empty());
  slot.desc = desc(uapi::IoOp::kWrite, 12288);
  const std::uint64_t addr = s->need_data_address(slot, false);
  ASSERT_TRUE(slot.buffer);
  EXPECT_EQ(addr, reinterpret_cast<std::uintptr_t>(slot.buffer.data));
  EXPECT_EQ(slot.buffer.length, 12288u);
  std::span<std::byte> data;
  EXPECT_EQ(s->on_request(slot, data), 0);
  EXPECT_EQ(data.size(), 12288u);
  int result = 12288;
  EXPECT_EQ(s->on_done(slot, result), sink_addr());  // the commit never carries the WRITE buffer
  EXPECT_TRUE(provider.out.empty());                  // released at once
  EXPECT_TRUE(later.empty());
  EXPECT_EQ(stats.get_data, 1u);
}

TEST_F(StrategyTest, GetDataReadBufferIsReleasedOnlyAfterTheSubmit) {
  auto s = make_strategy(Mode::kGetData, res);
  TagSlot slot;
  slot.desc = desc(uapi::IoOp::kRead, 4096);
  std::span<std::byte> data;
  ASSERT_EQ(s->on_request(slot, data), 0);
  ASSERT_EQ(data.size(), 4096u);
  void* buffer = data.data();
  int result = 4096;
  EXPECT_EQ(s->on_done(slot, result), reinterpret_cast<std::uintptr_t>(buffer));
  EXPECT_EQ(provider.out.count(buffer), 1u);  // the kernel copies out of it during the submit
  ASSERT_EQ(later.size(), 1u);
  EXPECT_EQ(later[0].data, buffer);
  cache->release(later[0]);
  EXPECT_TRUE(provider.out.empty());
}

TEST_F(StrategyTest, GetDataExhaustionOfARequestThatMayWaitAsksToParkIt) {
  auto s = make_strategy(Mode::kGetData, res);
  TagSlot slot;
  slot.desc = desc(uapi::IoOp::kWrite, 65536);
  provider.fail_next = true;
  EXPECT_EQ(s->need_data_address(slot, true), 0u);  // park: no NEED_GET_DATA yet
  EXPECT_EQ(slot.pending_error, 0);
  EXPECT_EQ(stats.get_data, 0u);  // nothing issued, nothing counted
  // Once a buffer is there, the same request gets it.
  EXPECT_NE(s->need_data_address(slot, true), 0u);
  EXPECT_TRUE(slot.buffer);
  EXPECT_EQ(stats.get_data, 1u);
  int result = 65536;
  s->on_done(slot, result);
  EXPECT_TRUE(provider.out.empty());
}

TEST_F(StrategyTest, GetDataExhaustionSendsTheDataToTheSinkAndFailsWithEnomem) {
  auto s = make_strategy(Mode::kGetData, res);
  TagSlot slot;
  slot.desc = desc(uapi::IoOp::kWrite, 65536);
  provider.fail_next = true;
  EXPECT_EQ(s->need_data_address(slot, false), sink_addr());
  EXPECT_EQ(slot.pending_error, -ENOMEM);
  EXPECT_FALSE(slot.buffer);
  EXPECT_EQ(stats.acquire_failures, 1u);
  // The next WRITE is served again.
  TagSlot next;
  next.desc = desc(uapi::IoOp::kWrite, 4096);
  EXPECT_NE(s->need_data_address(next, false), sink_addr());
  EXPECT_EQ(next.pending_error, 0);
  int result = 4096;
  s->on_done(next, result);
  EXPECT_TRUE(provider.out.empty());
}

TEST_F(StrategyTest, GetDataReadExhaustionIsAnError) {
  auto s = make_strategy(Mode::kGetData, res);
  TagSlot slot;
  slot.desc = desc(uapi::IoOp::kRead, 4096);
  provider.fail_next = true;
  std::span<std::byte> data;
  EXPECT_EQ(s->on_request(slot, data), -ENOMEM);
  int result = -ENOMEM;
  EXPECT_EQ(s->on_done(slot, result), sink_addr());  // non-NULL, as the kernel wants for a READ
  EXPECT_TRUE(later.empty());
}

TEST_F(StrategyTest, NoDataTargetsGetNoBuffers) {
  res.wants_data = false;
  auto s = make_strategy(Mode::kGetData, res);
  TagSlot slot;
  slot.desc = desc(uapi::IoOp::kWrite, 4096);
  EXPECT_EQ(s->need_data_address(slot, false), sink_addr());
  EXPECT_EQ(slot.pending_error, 0);
  slot.desc = desc(uapi::IoOp::kRead, 4096);
  std::span<std::byte> data;
  EXPECT_EQ(s->on_request(slot, data), 0);
  EXPECT_TRUE(data.empty());
  EXPECT_EQ(stats.acquires, 0u);
}

TEST_F(StrategyTest, APoisoningProviderScribblesOverEveryReleasedBuffer) {
  cli::PoisoningProvider poisoning(provider);
  auto poisoning_cache = poisoning.make_cache();
  res.cache = poisoning_cache.get();
  auto s = make_strategy(Mode::kGetData, res);
  TagSlot slot;
  slot.desc = desc(uapi::IoOp::kWrite, 4096);
  s->need_data_address(slot, false);
  std::memset(slot.buffer.data, 0x11, 4096);
  int result = 4096;
  s->on_done(slot, result);
  ASSERT_EQ(provider.last_released_bytes.size(), 4096u);
  EXPECT_EQ(provider.last_released_bytes.front(), std::byte{0xa5});
  EXPECT_EQ(provider.last_released_bytes.back(), std::byte{0xa5});
  // The provider itself (a handed-off buffer's way back) poisons too.
  auto direct = poisoning.acquire(8192);
  ASSERT_TRUE(direct);
  std::memset(direct->data, 0x22, 8192);
  EXPECT_FALSE(poisoning.release(*direct));
  EXPECT_EQ(provider.last_released_bytes.at(8191), std::byte{0xa5});
  EXPECT_TRUE(provider.out.empty());
}

TEST_F(StrategyTest, CopyModeOwnsOneMaxIoBufferPerTagUntilRetired) {
  auto s = make_strategy(Mode::kCopy, res);
  TagSlot slot;
  const std::uint64_t addr = s->fetch_address(slot);
  ASSERT_TRUE(slot.buffer);
  EXPECT_EQ(slot.buffer.length, res.max_io);
  slot.desc = desc(uapi::IoOp::kWrite, 8192);
  std::span<std::byte> data;
  EXPECT_EQ(s->on_request(slot, data), 0);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(data.data()), addr);
  int result = 8192;
  EXPECT_EQ(s->on_done(slot, result), addr);
  EXPECT_EQ(provider.out.size(), 1u);
  s->on_retire(slot);
  EXPECT_TRUE(provider.out.empty());
}

// A request served in place from shared memory commits without on_done: copy names the tag's
// own buffer for its next request, get_data the span it answered NEED_GET_DATA with, user_copy
// nothing. No buffer moves either way.
TEST_F(StrategyTest, EachModeSaysWhatAnInPlaceRequestCommitsWith) {
  std::vector<std::byte> shared(8192);
  auto copy = make_strategy(Mode::kCopy, res);
  TagSlot slot;
  const std::uint64_t own = copy->fetch_address(slot);
  slot.desc = desc(uapi::IoOp::kWrite, 4096);
  slot.shared = std::span(shared).subspan(4096);
  EXPECT_EQ(copy->in_place_done_address(slot), own);
  auto get_data = make_strategy(Mode::kGetData, res);
  EXPECT_EQ(get_data->in_place_done_address(slot), reinterpret_cast<std::uintptr_t>(shared.data() + 4096));
  auto user_copy = make_strategy(Mode::kUserCopy, res);
  EXPECT_EQ(user_copy->in_place_done_address(slot), 0u);
  EXPECT_EQ(provider.out.size(), 1u);  // copy's own buffer only
  copy->on_retire(slot);
  EXPECT_TRUE(provider.out.empty());
}

TEST_F(StrategyTest, CopyModeSetupFailsLoudly) {
  auto s = make_strategy(Mode::kCopy, res);
  TagSlot slot;
  provider.fail_next = true;
  EXPECT_THROW(s->fetch_address(slot), std::runtime_error);
}

TEST_F(StrategyTest, UserCopyMovesDataAtTheTagsOffset) {
  char path[] = "/tmp/ublk-user-copy-XXXXXX";
  const int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ::unlink(path);
  res.char_fd = fd;
  auto s = make_strategy(Mode::kUserCopy, res);
  TagSlot slot;
  slot.tag = 3;
  EXPECT_EQ(s->fetch_address(slot), 0u);

  // WRITE: what the kernel would present at (queue 1, tag 3) is pread into a fresh buffer.
  std::vector<char> pattern(4096);
  for (std::size_t i = 0; i < pattern.size(); ++i) pattern[i] = static_cast<char>(i * 7);
  const off_t at = static_cast<off_t>(uapi::user_copy_offset(1, 3));
  ASSERT_EQ(::pwrite(fd, pattern.data(), pattern.size(), at), 4096);
  slot.desc = desc(uapi::IoOp::kWrite, 4096);
  std::span<std::byte> data;
  ASSERT_EQ(s->on_request(slot, data), 0);
  EXPECT_EQ(std::memcmp(data.data(), pattern.data(), 4096), 0);
  int result = 4096;
  EXPECT_EQ(s->on_done(slot, result), 0u);
  EXPECT_TRUE(provider.out.empty());

  // READ: the target's data is pwritten there before the commit, and the buffer returned.
  slot.desc = desc(uapi::IoOp::kRead, 4096);
  ASSERT_EQ(s->on_request(slot, data), 0);
  std::memset(data.data(), 0x5a, data.size());
  result = 4096;
  EXPECT_EQ(s->on_done(slot, result), 0u);
  EXPECT_EQ(result, 4096);
  EXPECT_TRUE(provider.out.empty());
  std::vector<char> back(4096);
  ASSERT_EQ(::pread(fd, back.data(), back.size(), at), 4096);
  EXPECT_EQ(back[0], 0x5a);
  EXPECT_EQ(back[4095], 0x5a);

  // A WRITE whose data cannot be read in full fails rather than serving garbage.
  slot.tag = 4;
  slot.desc = desc(uapi::IoOp::kWrite, 4096);
  EXPECT_EQ(s->on_request(slot, data), -EIO);
  s->on_done(slot, result);
  EXPECT_TRUE(provider.out.empty());
  ::close(fd);
}

}  // namespace
}  // namespace ublk
