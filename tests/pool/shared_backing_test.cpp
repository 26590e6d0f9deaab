// PoolConfig::shared: regions are memfds that another process maps to the same pages.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>

#include <cstring>

#include "pool/size_class_pool.hpp"
#include "../common/hugetlb_lock.hpp"
#include "proc_memory.hpp"

namespace {

constexpr std::size_t kMiB = std::size_t{1} << 20;

pool::PoolConfig shared_config(pool::BackingPolicy policy) {
  pool::PoolConfig config;
  config.shared = true;
  config.backing = policy;
  return config;
}

// Where `data` lies in one of the pool's shared regions.
struct Place {
  const pool::SharedRegion* region = nullptr;
  std::size_t offset = 0;
};
Place place_of(const std::vector<pool::SharedRegion>& regions, const void* data) {
  for (const auto& r : regions) {
    const auto* p = static_cast<const std::byte*>(data);
    if (p >= r.data && p < r.data + r.bytes) return {&r, static_cast<std::size_t>(p - r.data)};
  }
  return {};
}

// A child process maps the region's memfd by itself and writes `byte` where the buffer lies.
int child_writes(const Place& place, std::size_t length, unsigned char byte) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    void* view = ::mmap(nullptr, place.region->bytes, PROT_READ | PROT_WRITE, MAP_SHARED, place.region->fd, 0);
    if (view == MAP_FAILED) ::_exit(2);
    std::memset(static_cast<std::byte*>(view) + place.offset, byte, length);
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(SharedBacking, AnotherProcessMappingTheMemfdSeesTheSamePages) {
  pool::SizeClassPool p(shared_config(pool::BackingPolicy::none));
  auto buffer = p.acquire(64 * 1024);
  ASSERT_TRUE(buffer) << buffer.error().message();
  std::memset(buffer->data, 0x11, buffer->capacity);
  const auto regions = p.shared_regions();
  ASSERT_EQ(regions.size(), 1u);
  EXPECT_FALSE(regions[0].hugetlb);
  EXPECT_GE(regions[0].fd, 0);
  const Place place = place_of(regions, buffer->data);
  ASSERT_NE(place.region, nullptr) << "the buffer is not in the shared region";
  ASSERT_EQ(child_writes(place, buffer->capacity, 0xa5), 0);
  for (std::size_t i = 0; i < buffer->capacity; i += 4096) {
    ASSERT_EQ(static_cast<unsigned char>(buffer->data[i]), 0xa5) << "offset " << i;
  }
  const auto stats = *p.stats();
  EXPECT_EQ(stats.backing.shmem_bytes, p.mapped_bytes());
  EXPECT_EQ(stats.backing.shared_bytes, p.mapped_bytes());
  EXPECT_EQ(stats.backing.small_page_bytes + stats.backing.hugetlb_bytes + stats.backing.thp_bytes, 0u);
  EXPECT_NE(stats.to_json().find("\"shared_bytes\":" + std::to_string(p.mapped_bytes())), std::string::npos);
  EXPECT_FALSE(p.release(*buffer));
}

TEST(SharedBacking, HugetlbWhenThePagesAreFree) {
  const test_support::HugetlbLock lock(test_support::HugetlbLock::Mode::kShared);
  if (test_support::wait_for_free_hugepages_2m(2) < 2)
    GTEST_SKIP() << "no free 2 MiB hugetlb pages in /proc/meminfo (scripts/hugepages.sh reserve 32 as root)";
  pool::SizeClassPool p(shared_config(pool::BackingPolicy::automatic));
  auto buffer = p.acquire(128 * 1024);
  ASSERT_TRUE(buffer) << buffer.error().message();
  const auto regions = p.shared_regions();
  ASSERT_EQ(regions.size(), 1u);
  EXPECT_TRUE(regions[0].hugetlb);
  const auto stats = *p.stats();
  EXPECT_EQ(stats.backing.hugetlb_bytes, 2 * kMiB);
  EXPECT_EQ(stats.backing.shared_bytes, 2 * kMiB);
  EXPECT_EQ(pool_test::smaps_for(buffer->data).kernel_page_kb, 2048u);
  const Place place = place_of(regions, buffer->data);
  ASSERT_NE(place.region, nullptr);
  ASSERT_EQ(child_writes(place, 4096, 0x5a), 0);
  EXPECT_EQ(static_cast<unsigned char>(buffer->data[0]), 0x5a);
  EXPECT_FALSE(p.release(*buffer));
}

TEST(SharedBacking, RegionsStayMappedThroughReleaseAndTrim) {
  pool::SizeClassPool p(shared_config(pool::BackingPolicy::none));
  auto buffer = p.acquire(4096);
  ASSERT_TRUE(buffer);
  const auto before = p.shared_regions();
  EXPECT_FALSE(p.release(*buffer));
  EXPECT_EQ(p.trim(), 0u);  // the other side may still use them
  const auto after = p.shared_regions();
  ASSERT_EQ(after.size(), before.size());
  EXPECT_EQ(after[0].data, before[0].data);
  EXPECT_EQ(::fcntl(after[0].fd, F_GETFD), FD_CLOEXEC);  // open, and not leaked into an exec
}

TEST(SharedBacking, APrivatePoolHasNoSharedRegions) {
  pool::SizeClassPool p(pool::PoolConfig{});
  auto buffer = p.acquire(4096);
  ASSERT_TRUE(buffer);
  EXPECT_TRUE(p.shared_regions().empty());
  EXPECT_EQ(p.stats()->backing.shared_bytes, 0u);
  EXPECT_FALSE(p.release(*buffer));
}

TEST(SharedBacking, TheByteLimitHolds) {
  pool::PoolConfig config = shared_config(pool::BackingPolicy::none);
  config.byte_limit = 2 * kMiB;
  pool::SizeClassPool p(config);
  auto first = p.acquire(1 * kMiB);
  auto second = p.acquire(1 * kMiB);  // the same 2 MiB chunk
  ASSERT_TRUE(first && second);
  auto third = p.acquire(1 * kMiB);  // a second chunk would pass the limit
  ASSERT_FALSE(third);
  EXPECT_EQ(third.error(), std::errc::not_enough_memory);
  EXPECT_EQ(p.mapped_bytes(), 2 * kMiB);
  EXPECT_FALSE(p.release(*first));
  EXPECT_FALSE(p.release(*second));
}

}  // namespace
