// io_uring fixed buffers: the pool's regions as iovecs, a buffer as (buf_index, offset), and a
// real READ_FIXED into a pool buffer through a registered region.
#include <gtest/gtest.h>
#include <liburing.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "pool/size_class_pool.hpp"

namespace {

constexpr std::size_t kMiB = std::size_t{1} << 20;

pool::PoolConfig small_pages() {
  pool::PoolConfig config;
  config.backing = pool::BackingPolicy::none;
  return config;
}

TEST(FixedBuffers, EveryBufferMapsIntoItsRegion) {
  pool::SizeClassPool p(small_pages());
  ASSERT_FALSE(p.reserve(4096, 600));  // two 2 MiB chunks of 4K buffers
  ASSERT_FALSE(p.reserve(kMiB, 2));
  const auto iovecs = p.register_fixed_buffers();
  ASSERT_EQ(iovecs.size(), 3u);
  std::vector<pool::Buffer> held;
  for (int i = 0; i < 600; ++i) held.push_back(*p.acquire(4096));
  for (int i = 0; i < 2; ++i) held.push_back(*p.acquire(kMiB));
  for (const auto& b : held) {
    auto ref = p.fixed_buffer(b.data);
    ASSERT_TRUE(ref);
    ASSERT_LT(ref->buf_index, iovecs.size());
    const auto& iov = iovecs[ref->buf_index];
    EXPECT_EQ(static_cast<std::byte*>(iov.iov_base) + ref->offset, b.data);
    EXPECT_LE(ref->offset + b.capacity, iov.iov_len);
  }
  int local = 0;
  EXPECT_FALSE(p.fixed_buffer(&local));
  for (const auto& b : held) EXPECT_FALSE(p.release(b));
  p.unregister_fixed_buffers();
}

TEST(FixedBuffers, RegisteredRegionsSurviveTrimAndLaterOnesAreNotRegistered) {
  pool::SizeClassPool p(small_pages());
  ASSERT_FALSE(p.reserve(65536, 1));
  const auto iovecs = p.register_fixed_buffers();
  ASSERT_EQ(iovecs.size(), 1u);
  EXPECT_EQ(p.trim(), 0u);  // registered: pinned by the kernel, must stay mapped
  EXPECT_EQ(p.mapped_bytes(), 2 * kMiB);
  auto later = p.acquire(kMiB);  // a region mapped after the registration
  ASSERT_TRUE(later);
  EXPECT_FALSE(p.fixed_buffer(later->data));
  EXPECT_FALSE(p.release(*later));
  p.unregister_fixed_buffers();
  EXPECT_EQ(p.trim(), 4 * kMiB);
  EXPECT_EQ(p.mapped_bytes(), 0u);
}

TEST(FixedBuffers, ReadFixedLandsInThePoolBuffer) {
  io_uring ring;
  if (int rc = io_uring_queue_init(4, &ring, 0); rc < 0)
    GTEST_SKIP() << "io_uring unavailable here: " << std::strerror(-rc);
  pool::SizeClassPool p(small_pages());
  ASSERT_FALSE(p.reserve(65536, 32));
  const auto iovecs = p.register_fixed_buffers();
  ASSERT_EQ(io_uring_register_buffers(&ring, iovecs.data(), static_cast<unsigned>(iovecs.size())), 0);

  const int fd = ::memfd_create("pool-fixed", 0);
  ASSERT_GE(fd, 0);
  std::vector<char> pattern(65536);
  for (std::size_t i = 0; i < pattern.size(); ++i) pattern[i] = static_cast<char>(i * 7);
  ASSERT_EQ(::write(fd, pattern.data(), pattern.size()), static_cast<ssize_t>(pattern.size()));

  auto b = p.acquire(65536);
  ASSERT_TRUE(b);
  const auto ref = p.fixed_buffer(b->data);
  ASSERT_TRUE(ref);
  io_uring_sqe* sqe = io_uring_get_sqe(&ring);
  io_uring_prep_read_fixed(sqe, fd, b->data, 65536, 0, static_cast<int>(ref->buf_index));
  ASSERT_EQ(io_uring_submit(&ring), 1);
  io_uring_cqe* cqe = nullptr;
  ASSERT_EQ(io_uring_wait_cqe(&ring, &cqe), 0);
  EXPECT_EQ(cqe->res, 65536);
  io_uring_cqe_seen(&ring, cqe);
  EXPECT_EQ(std::memcmp(b->data, pattern.data(), pattern.size()), 0);

  EXPECT_FALSE(p.release(*b));
  io_uring_unregister_buffers(&ring);
  p.unregister_fixed_buffers();
  io_uring_queue_exit(&ring);
  ::close(fd);
}

}  // namespace
