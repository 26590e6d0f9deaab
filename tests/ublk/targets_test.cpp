#include "mem_target.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <system_error>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <cstring>
#include <tuple>
#include <vector>

#include "app_copy_target.hpp"
#include "callback_owner.hpp"
#include "null_target.hpp"

namespace ublk {
namespace {

struct Outcome {
  int result = 1234;
  std::uint64_t copied = 0;
  unsigned tag = 0;
};
void record(void* context, unsigned tag, int result, std::uint64_t copied) noexcept {
  auto* o = static_cast<Outcome*>(context);
  o->result = result;
  o->copied = copied;
  o->tag = tag;
}

Outcome run(Target& target, IoOp op, std::uint64_t offset, std::vector<std::byte>& data, unsigned tag = 7) {
  Outcome outcome;
  Request r;
  r.op = op;
  r.offset = offset;
  r.length = static_cast<std::uint32_t>(data.size());
  r.data = data;
  r.tag = tag;
  test::CallbackOwner owner(&record, &outcome);
  target.handle(r, Completion(owner, tag, 0));
  return outcome;
}

TEST(MemTarget, KeepsWhatWasWritten) {
  MemTarget mem(1 << 20);
  std::vector<std::byte> in(8192);
  for (std::size_t i = 0; i < in.size(); ++i) in[i] = static_cast<std::byte>(i * 13 + 1);
  Outcome w = run(mem, IoOp::kWrite, 65536, in);
  EXPECT_EQ(w.result, 8192);
  EXPECT_EQ(w.copied, 8192u);  // its store is a userspace copy
  EXPECT_EQ(w.tag, 7u);
  std::vector<std::byte> out(8192);
  Outcome r = run(mem, IoOp::kRead, 65536, out);
  EXPECT_EQ(r.result, 8192);
  EXPECT_EQ(std::memcmp(in.data(), out.data(), in.size()), 0);
}

TEST(MemTarget, RefusesBeyondItsSize) {
  MemTarget mem(1 << 20);
  std::vector<std::byte> buf(4096);
  EXPECT_EQ(run(mem, IoOp::kWrite, (1 << 20) - 2048, buf).result, -EIO);
  EXPECT_EQ(run(mem, IoOp::kRead, 1ull << 40, buf).result, -EIO);
}

TEST(MemTarget, WriteZeroesReadsBackZeros) {
  MemTarget mem(1 << 20);
  std::vector<std::byte> ones(4096, std::byte{0xff});
  run(mem, IoOp::kWrite, 0, ones);
  std::vector<std::byte> none;
  Request r;
  r.op = IoOp::kWriteZeroes;
  r.offset = 0;
  r.length = 4096;
  Outcome z;
  test::CallbackOwner owner(&record, &z);
  mem.handle(r, Completion(owner, 0, 0));
  EXPECT_EQ(z.result, 0);
  std::vector<std::byte> out(4096, std::byte{1});
  run(mem, IoOp::kRead, 0, out);
  EXPECT_EQ(out[0], std::byte{0});
  EXPECT_EQ(out[4095], std::byte{0});
}

// A scratch directory standing in for /dev/shm.
class StoreDir : public ::testing::Test {
 protected:
  void SetUp() override {
    char name[] = "/tmp/ublk-mem-store-XXXXXX";
    ASSERT_NE(::mkdtemp(name), nullptr);
    dir_ = name;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(StoreDir, NamedStoreOutlivesItsTargetAndIsAdoptedByTheNext) {
  std::vector<std::byte> in(4096);
  for (std::size_t i = 0; i < in.size(); ++i) in[i] = static_cast<std::byte>(i * 7 + 3);
  const std::string path = mem_store_path(dir_, 9);
  {
    MemTarget first(1 << 20, MemStore::kNamed, dir_);
    first.on_device_added(9);
    EXPECT_EQ(first.store_path(), path);
    EXPECT_EQ(run(first, IoOp::kWrite, 8192, in).result, 4096);
  }  // the daemon "dies": no on_device_deleted
  ASSERT_TRUE(std::filesystem::exists(path));
  EXPECT_EQ(std::filesystem::file_size(path), 1u << 20);

  MemTarget second(1 << 20, MemStore::kAdopt, dir_);
  second.on_device_added(9);
  std::vector<std::byte> out(4096);
  EXPECT_EQ(run(second, IoOp::kRead, 8192, out).result, 4096);
  EXPECT_EQ(std::memcmp(in.data(), out.data(), in.size()), 0);
  second.on_device_deleted();
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST_F(StoreDir, NamedStoreReplacesAStaleFileOfTheSameNumber) {
  const std::string path = mem_store_path(dir_, 2);
  {
    std::FILE* stale = std::fopen(path.c_str(), "w");
    ASSERT_NE(stale, nullptr);
    std::fputs("old data", stale);
    std::fclose(stale);
  }
  MemTarget mem(1 << 20, MemStore::kNamed, dir_);
  mem.on_device_added(2);
  std::vector<std::byte> out(8, std::byte{1});
  run(mem, IoOp::kRead, 0, out);
  EXPECT_EQ(out[0], std::byte{0});  // a fresh device reads zeros, not the stale file
  EXPECT_EQ(std::filesystem::file_size(path), 1u << 20);
}

TEST_F(StoreDir, AdoptRefusesAMissingStoreOrOneOfAnotherSize) {
  MemTarget missing(1 << 20, MemStore::kAdopt, dir_);
  EXPECT_THROW(missing.on_device_added(4), std::system_error);
  {
    MemTarget small(1 << 16, MemStore::kNamed, dir_);
    small.on_device_added(4);
  }
  MemTarget bigger(1 << 20, MemStore::kAdopt, dir_);
  EXPECT_THROW(bigger.on_device_added(4), std::system_error);
}

TEST(MemTarget, PrivateStoreLeavesNoFile) {
  MemTarget mem(1 << 20);
  mem.on_device_added(3);
  EXPECT_TRUE(mem.store_path().empty());
  mem.on_device_deleted();
}

TEST(NullTarget, CompletesDataOpsWithTheirLengthAndSaysWhetherItWantsData) {
  NullTarget null;
  NullTarget no_data(true);
  EXPECT_TRUE(null.wants_data());
  EXPECT_FALSE(no_data.wants_data());
  std::vector<std::byte> buf(512);
  EXPECT_EQ(run(null, IoOp::kWrite, 0, buf).result, 512);
  EXPECT_EQ(run(null, IoOp::kWrite, 0, buf).copied, 0u);
  std::vector<std::byte> none;
  EXPECT_EQ(run(null, IoOp::kFlush, 0, none).result, 0);
}

}  // namespace
}  // namespace ublk

namespace ublk {
namespace {

struct Counter {
  std::mutex mutex;
  std::condition_variable cv;
  int done = 0;
  std::thread::id thread;
};
void count(void* context, unsigned, int, std::uint64_t) noexcept {
  auto* c = static_cast<Counter*>(context);
  std::lock_guard lock(c->mutex);
  ++c->done;
  c->thread = std::this_thread::get_id();
  c->cv.notify_all();
}

TEST(NullTarget, AsyncCompletesFromItsWorkerThread) {
  Counter counter;
  test::CallbackOwner owner(&count, &counter);
  {
    NullTarget null(false, true);
    Request r;
    r.op = IoOp::kWrite;
    r.length = 4096;
    for (int i = 0; i < 100; ++i) null.handle(r, Completion(owner, 0, 0));
    std::unique_lock lock(counter.mutex);
    counter.cv.wait(lock, [&] { return counter.done == 100; });
    EXPECT_NE(counter.thread, std::this_thread::get_id());
  }
  EXPECT_EQ(counter.done, 100);
}

}  // namespace
}  // namespace ublk

namespace ublk {
namespace {

// Counts the buffers that come back; the bytes are the test's own.
struct CountingHome final : pool::BufferHome {
  void take_back(const pool::Buffer&) noexcept override { ++returned; }
  std::atomic<int> returned{0};
};

TEST(MemTarget, KeepsAHandedOffWriteBufferInsteadOfCopyingAndReadsThroughIt) {
  auto home = std::make_shared<CountingHome>();
  std::vector<std::byte> request_buffer(8192);
  for (std::size_t i = 0; i < request_buffer.size(); ++i) request_buffer[i] = static_cast<std::byte>(i * 7 + 3);
  {
    MemTarget mem(1 << 20, MemStore::kPrivate, kDefaultMemStoreDir, 1 << 20);
    Outcome w;
    test::CallbackOwner owner(&record, &w);
    owner.offer = pool::OwnedBuffer(pool::Buffer{request_buffer.data(), 8192, 8192, nullptr, 0}, home);
    Request r;
    r.op = IoOp::kWrite;
    r.offset = 4096;
    r.length = 8192;
    r.data = request_buffer;
    mem.handle(r, Completion(owner, 3, 0));
    EXPECT_EQ(w.result, 8192);
    EXPECT_EQ(w.copied, 0u);  // kept, not copied
    EXPECT_EQ(mem.held_bytes(), 8192u);
    EXPECT_EQ(home->returned, 0);

    std::vector<std::byte> out(16384);
    EXPECT_EQ(run(mem, IoOp::kRead, 0, out).result, 16384);
    EXPECT_EQ(std::memcmp(out.data() + 4096, request_buffer.data(), 8192), 0);
    EXPECT_EQ(out[0], std::byte{0});

    // A copied WRITE over half of it: the held buffer stays for the other half.
    std::vector<std::byte> ones(4096, std::byte{0xff});
    EXPECT_EQ(run(mem, IoOp::kWrite, 4096, ones).copied, 4096u);  // no buffer offered: copied
    EXPECT_EQ(home->returned, 0);
    EXPECT_EQ(run(mem, IoOp::kRead, 0, out).result, 16384);
    EXPECT_EQ(out[4096], std::byte{0xff});
    EXPECT_EQ(std::memcmp(out.data() + 8192, request_buffer.data() + 4096, 4096), 0);

    // Overwriting the rest drops the last reference: the buffer goes home exactly once.
    EXPECT_EQ(run(mem, IoOp::kWrite, 8192, ones).copied, 4096u);
    EXPECT_EQ(home->returned, 1);
    EXPECT_EQ(mem.held_bytes(), 0u);
  }
  EXPECT_EQ(home->returned, 1);
}

TEST(MemTarget, CopiesAWriteInSharedMemoryEvenWithAHoldBudgetAndCountsIt) {
  auto home = std::make_shared<CountingHome>();
  std::vector<std::byte> application_pages(8192, std::byte{0x3c});
  std::vector<std::byte> offered(8192);
  MemTarget mem(1 << 20, MemStore::kPrivate, kDefaultMemStoreDir, 1 << 20);
  Outcome w;
  test::CallbackOwner owner(&record, &w);
  owner.offer = pool::OwnedBuffer(pool::Buffer{offered.data(), 8192, 8192, nullptr, 0}, home);
  Request r;
  r.op = IoOp::kWrite;
  r.offset = 8192;
  r.length = 8192;
  r.data = application_pages;
  r.in_shared_memory = true;
  mem.handle(r, Completion(owner, 0, 0));
  EXPECT_EQ(w.result, 8192);
  EXPECT_EQ(w.copied, 8192u);
  EXPECT_EQ(owner.take_calls, 0);
  EXPECT_EQ(mem.held_bytes(), 0u);
  EXPECT_EQ(mem.shmem_copied_bytes(), 8192u);

  // The application reuses its pages once the WRITE completed: the device keeps what was written.
  std::fill(application_pages.begin(), application_pages.end(), std::byte{0});
  std::vector<std::byte> out(8192);
  EXPECT_EQ(run(mem, IoOp::kRead, 8192, out).result, 8192);
  EXPECT_EQ(out, std::vector<std::byte>(8192, std::byte{0x3c}));

  std::vector<std::byte> private_write(4096, std::byte{1});
  run(mem, IoOp::kWrite, 0, private_write);  // not in shared memory: not counted as such
  const auto counters = mem.counters();
  ASSERT_EQ(counters.size(), 1u);
  EXPECT_EQ(counters[0].name, "shmem_copied_bytes");
  EXPECT_EQ(counters[0].value, 8192u);
}

TEST(MemTarget, ANamedStoreCopiesEvenWhenABufferIsOffered) {
  const auto dir = std::filesystem::temp_directory_path() / ("ublk-mem-hold-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto home = std::make_shared<CountingHome>();
  std::vector<std::byte> request_buffer(4096, std::byte{0x5a});
  {
    MemTarget mem(1 << 20, MemStore::kNamed, dir.string(), 1 << 20);
    mem.on_device_added(9);
    Outcome w;
    test::CallbackOwner owner(&record, &w);
    owner.offer = pool::OwnedBuffer(pool::Buffer{request_buffer.data(), 4096, 4096, nullptr, 0}, home);
    Request r;
    r.op = IoOp::kWrite;
    r.length = 4096;
    r.data = request_buffer;
    mem.handle(r, Completion(owner, 0, 0));
    EXPECT_EQ(w.copied, 4096u);
    EXPECT_EQ(owner.take_calls, 0);
    mem.on_device_deleted();
  }
  EXPECT_EQ(home->returned, 1);  // the offer was never taken: dropped with the owner
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ublk

namespace ublk {
namespace {

TEST(AppCopyTarget, CopiesEachWriteOnceMoreAndCountsItBeforeTheRealTarget) {
  MemTarget mem(1 << 20);
  cli::AppCopyTarget app(mem, 2, 1 << 20);
  EXPECT_EQ(app.name(), "mem");
  std::vector<std::byte> in(4096, std::byte{0x42});
  Outcome w;
  {
    test::CallbackOwner owner(&record, &w);
    Request r;
    r.op = IoOp::kWrite;
    r.length = 4096;
    r.data = in;
    r.queue = 1;
    app.handle(r, Completion(owner, 0, 0));
  }
  EXPECT_EQ(w.result, 4096);
  EXPECT_EQ(w.copied, 8192u);  // the application's copy, then the store's
  std::vector<std::byte> out(4096);
  EXPECT_EQ(run(app, IoOp::kRead, 0, out).copied, 0u);
  EXPECT_EQ(out, in);
}

// A target that notes which of its hooks ran.
class HookSpy final : public Target {
 public:
  [[nodiscard]] std::string_view name() const noexcept override { return "spy"; }
  void handle(const Request&, Completion done) noexcept override { done(0); }
  [[nodiscard]] TargetTraits traits() const noexcept override {
    TargetTraits t;
    t.size_bytes = 12345 * 512;
    t.fua = true;
    return t;
  }
  [[nodiscard]] std::string describe() const override { return "the spy's backend"; }
  [[nodiscard]] std::vector<TargetCounter> counters() const override { return {{"spied", 7}}; }
  void on_io_notification(QueueContext&, unsigned tag, std::uint32_t cookie, int result) noexcept override {
    notified = {tag, cookie, result};
  }
  void on_batch_end(QueueContext&) noexcept override { ++batch_ends; }

  std::tuple<unsigned, std::uint32_t, int> notified{};
  int batch_ends = 0;
};

class NoQueue final : public QueueContext {
 public:
  [[nodiscard]] unsigned id() const noexcept override { return 0; }
  std::error_code submit(unsigned, std::uint32_t, const RingIo&) noexcept override { return {}; }
  std::error_code submit_own(std::uint32_t, const RingIo&) noexcept override { return {}; }
  int register_files(std::span<const int>) noexcept override { return -1; }
  [[nodiscard]] Completion completion(unsigned tag) noexcept override { return Completion(owner_, tag, 0); }

 private:
  Outcome outcome_;
  test::CallbackOwner owner_{&record, &outcome_};
};

TEST(AppCopyTarget, PassesEveryOtherHookToTheRealTarget) {
  // Without them an nbd daemon with --app-copy would never send (on_batch_end), never complete a
  // zero-copy WRITE (on_io_notification) and get the wrong device shape (traits).
  HookSpy spy;
  cli::AppCopyTarget app(spy, 1, 4096);
  NoQueue queue;
  EXPECT_EQ(app.traits().size_bytes, 12345U * 512);
  EXPECT_TRUE(app.traits().fua);
  EXPECT_EQ(app.describe(), "the spy's backend");
  ASSERT_EQ(app.counters().size(), 1U);
  EXPECT_EQ(app.counters()[0].name, "spied");
  app.on_batch_end(queue);
  EXPECT_EQ(spy.batch_ends, 1);
  app.on_io_notification(queue, 3, 9, 1);
  EXPECT_EQ(spy.notified, std::make_tuple(3U, 9U, 1));
}

}  // namespace
}  // namespace ublk
