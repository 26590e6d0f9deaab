// The example app's message-buffer pool and adopting store, without a kernel: a WRITE's buffer
// is kept by reference (nothing copied), survives the queue's release, and serves READs.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "adopting_store.hpp"
#include "message_buffer_pool.hpp"

namespace example {
namespace {

struct Completed {
  int result = 0;
  std::uint64_t copied = 0;
  int calls = 0;
};
void record(void* context, unsigned, int result, std::uint64_t copied) noexcept {
  auto* c = static_cast<Completed*>(context);
  c->result = result;
  c->copied = copied;
  ++c->calls;
}

// The queue's side of a request, reduced to recording the completion.
class Recorder final : public ublk::RequestOwner {
 public:
  explicit Recorder(Completed& done) : done_(done) {}
  void complete(unsigned tag, std::uint32_t, int result, std::uint64_t copied) noexcept override {
    record(&done_, tag, result, copied);
  }
  pool::OwnedBuffer take_buffer(unsigned, std::uint32_t) noexcept override { return {}; }
  ublk::QueueContext& context() noexcept override { std::abort(); }

 private:
  Completed& done_;
};

// What a get_data queue does with a WRITE: acquire a buffer of the request's size, let the
// "kernel" fill it, hand it to the target, release it once the target is done.
Completed queue_write(MessageBufferPool& pool, AdoptingStore& store, std::uint64_t offset,
                      std::size_t length, unsigned char fill) {
  Completed done;
  auto buffer = pool.acquire(length);
  EXPECT_TRUE(buffer);
  std::memset(buffer->data, fill, length);
  ublk::Request request;
  request.op = ublk::uapi::IoOp::kWrite;
  request.offset = offset;
  request.length = static_cast<std::uint32_t>(length);
  request.data = {buffer->data, length};
  Recorder owner(done);
  store.handle(request, ublk::Completion(owner, 0, 0));
  EXPECT_FALSE(pool.release(*buffer));
  return done;
}

std::vector<unsigned char> read_back(AdoptingStore& store, std::uint64_t offset, std::size_t length) {
  std::vector<unsigned char> out(length, 0xee);
  Completed done;
  ublk::Request request;
  request.op = ublk::uapi::IoOp::kRead;
  request.offset = offset;
  request.length = static_cast<std::uint32_t>(length);
  request.data = {reinterpret_cast<std::byte*>(out.data()), length};
  Recorder owner(done);
  store.handle(request, ublk::Completion(owner, 0, 0));
  EXPECT_EQ(done.result, static_cast<int>(length));
  return out;
}

TEST(MessageBufferPool, ARetainedBufferOutlivesItsRelease) {
  MessageBufferPool pool(1 << 20, 8 << 20);
  auto b = pool.acquire(10000);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->capacity, 16384u);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(b->data) % 16384, 0u);
  MessageRef ref = pool.retain(b->data + 5000);  // an address inside the buffer
  ASSERT_TRUE(ref);
  EXPECT_EQ(ref.block(), b->data);
  EXPECT_FALSE(pool.release(*b));
  EXPECT_EQ(pool.live_buffers(), 1u);  // the reference keeps it
  MessageRef second = ref.share();
  ref.reset();
  EXPECT_EQ(pool.live_buffers(), 1u);
  second.reset();
  EXPECT_EQ(pool.live_buffers(), 0u);
  EXPECT_EQ(pool.stats()->bytes_in_use, 0u);
}

TEST(MessageBufferPool, RefusesForeignAddressesAndRunsOut) {
  MessageBufferPool pool(1 << 20, 2 << 20);
  int not_ours = 0;
  EXPECT_FALSE(pool.retain(&not_ours));
  std::vector<pool::Buffer> held;
  for (;;) {
    auto b = pool.acquire(1 << 20);
    if (!b) {
      EXPECT_EQ(b.error(), std::make_error_code(std::errc::not_enough_memory));
      break;
    }
    held.push_back(*b);
  }
  EXPECT_EQ(held.size(), 2u);
  EXPECT_FALSE(pool.release(held.back()));
  held.pop_back();
  auto again = pool.acquire(1 << 20);
  ASSERT_TRUE(again);
  held.push_back(*again);
  for (const auto& b : held) EXPECT_FALSE(pool.release(b));
  pool::Buffer forged{held[0].data, 4096, 4096, nullptr, 0};
  EXPECT_EQ(pool.release(forged), std::make_error_code(std::errc::invalid_argument));
}

TEST(AdoptingStore, KeepsTheWriteBufferInsteadOfCopying) {
  MessageBufferPool pool(1 << 20, 16 << 20);
  AdoptingStore store(pool, 8 << 20);
  auto done = queue_write(pool, store, 65536, 65536, 0xab);
  EXPECT_EQ(done.calls, 1);
  EXPECT_EQ(done.result, 65536);
  EXPECT_EQ(done.copied, 0u);            // no userspace copy
  EXPECT_EQ(pool.live_buffers(), 1u);    // the queue released it; the store holds it
  auto audit = store.audit();
  EXPECT_EQ(audit.segments, 1u);
  EXPECT_EQ(audit.bytes, 65536u);
  EXPECT_EQ(audit.outside_pool, 0u);
  EXPECT_EQ(audit.copied_writes, 0u);
  auto data = read_back(store, 60000, 80000);
  for (std::size_t i = 0; i < data.size(); ++i) {
    const bool written = 60000 + i >= 65536 && 60000 + i < 131072;
    ASSERT_EQ(data[i], written ? 0xab : 0x00) << i;
  }
}

TEST(AdoptingStore, OverwritesSplitSegmentsThatShareABuffer) {
  MessageBufferPool pool(1 << 20, 16 << 20);
  AdoptingStore store(pool, 8 << 20);
  queue_write(pool, store, 0, 65536, 0x11);
  queue_write(pool, store, 8192, 4096, 0x22);  // splits the first into two, one buffer
  auto audit = store.audit();
  EXPECT_EQ(audit.segments, 3u);
  EXPECT_EQ(audit.bytes, 65536u);
  EXPECT_EQ(pool.live_buffers(), 2u);
  auto data = read_back(store, 0, 65536);
  for (std::size_t i = 0; i < data.size(); ++i) ASSERT_EQ(data[i], i >= 8192 && i < 12288 ? 0x22 : 0x11) << i;
  queue_write(pool, store, 0, 65536, 0x33);  // covers all: both old buffers go back
  EXPECT_EQ(pool.live_buffers(), 1u);
  EXPECT_EQ(store.audit().segments, 1u);
}

TEST(AdoptingStore, DataFromElsewhereIsCopiedAndCounted) {
  MessageBufferPool pool(1 << 20, 16 << 20);
  AdoptingStore store(pool, 8 << 20);
  std::vector<std::byte> foreign(4096, std::byte{0x5a});
  Completed done;
  ublk::Request request;
  request.op = ublk::uapi::IoOp::kWrite;
  request.offset = 0;
  request.length = 4096;
  request.data = foreign;
  Recorder owner(done);
  store.handle(request, ublk::Completion(owner, 0, 0));
  EXPECT_EQ(done.result, 4096);
  EXPECT_EQ(done.copied, 4096u);
  EXPECT_EQ(store.audit().copied_writes, 1u);
  EXPECT_EQ(read_back(store, 0, 4096)[100], 0x5a);
}

TEST(AdoptingStore, DiscardDropsAndOutOfRangeFails) {
  MessageBufferPool pool(1 << 20, 16 << 20);
  AdoptingStore store(pool, 1 << 20);
  queue_write(pool, store, 0, 8192, 0x44);
  Completed done;
  ublk::Request discard;
  discard.op = ublk::uapi::IoOp::kDiscard;
  discard.offset = 0;
  discard.length = 8192;
  Recorder owner(done);
  store.handle(discard, ublk::Completion(owner, 0, 0));
  EXPECT_EQ(done.result, 0);
  EXPECT_EQ(pool.live_buffers(), 0u);
  EXPECT_EQ(read_back(store, 0, 8192)[0], 0);
  ublk::Request beyond;
  beyond.op = ublk::uapi::IoOp::kRead;
  beyond.offset = 1 << 20;
  beyond.length = 4096;
  store.handle(beyond, ublk::Completion(owner, 0, 0));
  EXPECT_EQ(done.result, -EIO);
}

TEST(AdoptingStore, TwoQueuesWriteAtOnce) {
  MessageBufferPool pool(1 << 20, 32 << 20);
  AdoptingStore store(pool, 8 << 20);
  auto queue = [&](std::uint64_t base, unsigned char fill) {
    for (int i = 0; i < 200; ++i) {
      auto done = queue_write(pool, store, base + (i % 32) * 4096, 4096, fill);
      EXPECT_EQ(done.copied, 0u);
    }
  };
  std::thread a(queue, 0, 0x61), b(queue, 1 << 20, 0x62);
  a.join();
  b.join();
  EXPECT_EQ(store.audit().segments, 64u);
  EXPECT_EQ(read_back(store, (1 << 20) + 4096, 4096)[7], 0x62);
}

}  // namespace
}  // namespace example
