// Which memory the pool really gets, per policy: checked in its stats and in /proc/self/smaps.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "pool/size_class_pool.hpp"
#include "../common/hugetlb_lock.hpp"
#include "proc_memory.hpp"

namespace {

constexpr std::size_t kMiB = std::size_t{1} << 20;

bool thp_enabled() {
  std::ifstream in("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string line;
  std::getline(in, line);
  return !line.empty() && line.find("[never]") == std::string::npos;
}

pool::PoolConfig with_policy(pool::BackingPolicy policy) {
  pool::PoolConfig config;
  config.backing = policy;
  return config;
}

TEST(Backing, HugetlbIsReallyHugetlb) {
  const test_support::HugetlbLock lock(test_support::HugetlbLock::Mode::kShared);
  if (test_support::wait_for_free_hugepages_2m(2) < 2)
    GTEST_SKIP() << "no free 2 MiB hugetlb pages in /proc/meminfo (scripts/hugepages.sh reserve 32 as root)";
  pool::SizeClassPool p(with_policy(pool::BackingPolicy::hugetlb));
  auto buffer = p.acquire(64 * 1024);
  ASSERT_TRUE(buffer) << buffer.error().message();
  const auto stats = *p.stats();
  EXPECT_EQ(stats.backing.hugetlb_bytes, 2 * kMiB);
  EXPECT_EQ(stats.backing.thp_bytes + stats.backing.small_page_bytes, 0u);
  const auto smaps = pool_test::smaps_for(buffer->data);
  ASSERT_TRUE(smaps.found);
  EXPECT_EQ(smaps.kernel_page_kb, 2048u);
  EXPECT_EQ(smaps.private_hugetlb_kb, 2048u);  // populated at map time
  std::memset(buffer->data, 1, buffer->capacity);
  EXPECT_FALSE(p.release(*buffer));
}

TEST(Backing, EmptyHugetlbPoolFailsAtAcquireNotBySigbus) {
  const test_support::HugetlbLock lock(test_support::HugetlbLock::Mode::kExclusive);  // it takes them all
  const std::uint64_t free_pages = test_support::wait_for_free_hugepages_2m(2);
  if (free_pages < 2)
    GTEST_SKIP() << "no free 2 MiB hugetlb pages in /proc/meminfo (scripts/hugepages.sh reserve 32 as root)";
  auto config = with_policy(pool::BackingPolicy::hugetlb);
  config.max_buffer_size = 32 * kMiB;  // one buffer: 16 huge pages
  pool::SizeClassPool p(config);
  std::vector<pool::Buffer> held;
  std::error_code error;
  for (std::uint64_t i = 0; i <= free_pages / 16 + 1 && !error; ++i) {
    auto buffer = p.acquire(32 * kMiB);
    if (buffer) held.push_back(*buffer);
    else error = buffer.error();
  }
  EXPECT_EQ(error, std::errc::not_enough_memory);
  for (const auto& b : held) std::memset(b.data, 0x5a, b.capacity);  // would SIGBUS if not populated
  EXPECT_EQ(p.stats()->acquire_failures, 1u);
  for (const auto& b : held) EXPECT_FALSE(p.release(b));
}

TEST(Backing, OneGigabyteHugetlbWhenAvailable) {
  if (pool_test::free_hugepages_1g() < 1) GTEST_SKIP() << "no free 1 GiB hugetlb pages";
  auto config = with_policy(pool::BackingPolicy::hugetlb);
  config.hugetlb_1g = true;
  pool::SizeClassPool p(config);
  auto a = p.acquire(kMiB);
  auto b = p.acquire(4096);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(p.stats()->backing.hugetlb_bytes, std::uint64_t{1} << 30);  // both chunks in one region
  EXPECT_EQ(pool_test::smaps_for(a->data).kernel_page_kb, 1024u * 1024u);
  EXPECT_FALSE(p.release(*a));
  EXPECT_FALSE(p.release(*b));
}

TEST(Backing, ThpForcedByPolicy) {
  if (!thp_enabled()) GTEST_SKIP() << "transparent hugepages are disabled ([never])";
  pool::SizeClassPool p(with_policy(pool::BackingPolicy::thp));
  auto buffer = p.acquire(kMiB);
  ASSERT_TRUE(buffer);
  const auto stats = *p.stats();
  EXPECT_EQ(stats.backing.thp_bytes, 2 * kMiB);
  EXPECT_EQ(stats.backing.hugetlb_bytes + stats.backing.small_page_bytes, 0u);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(buffer->data) % (2 * kMiB), 0u);
  const auto smaps = pool_test::smaps_for(buffer->data);
  ASSERT_TRUE(smaps.found);
  EXPECT_GE(smaps.anon_huge_kb, 2048u) << "the kernel gave no transparent huge page";
  EXPECT_FALSE(p.release(*buffer));
}

TEST(Backing, SmallPagesForcedByPolicy) {
  pool::SizeClassPool p(with_policy(pool::BackingPolicy::none));
  auto buffer = p.acquire(kMiB);
  ASSERT_TRUE(buffer);
  const auto stats = *p.stats();
  EXPECT_EQ(stats.backing.small_page_bytes, 2 * kMiB);
  EXPECT_EQ(stats.backing.hugetlb_bytes + stats.backing.thp_bytes, 0u);
  const auto smaps = pool_test::smaps_for(buffer->data);
  ASSERT_TRUE(smaps.found);
  EXPECT_EQ(smaps.anon_huge_kb, 0u);
  EXPECT_EQ(smaps.kernel_page_kb, 4u);
  EXPECT_GE(smaps.rss_kb, 2048u);  // populated at map time: no fault on first touch
  EXPECT_FALSE(p.release(*buffer));
}

TEST(Backing, AutomaticReportsWhatItGot) {
  pool::SizeClassPool p(with_policy(pool::BackingPolicy::automatic));
  auto buffer = p.acquire(4096);
  ASSERT_TRUE(buffer);
  const auto b = p.stats()->backing;
  EXPECT_EQ(b.hugetlb_bytes + b.thp_bytes + b.small_page_bytes, p.mapped_bytes());
  EXPECT_EQ(p.mapped_bytes(), 2 * kMiB);
  const auto smaps = pool_test::smaps_for(buffer->data);
  if (b.hugetlb_bytes) {
    EXPECT_EQ(smaps.kernel_page_kb, 2048u);
  } else if (b.thp_bytes) {
    EXPECT_GE(smaps.anon_huge_kb, 2048u);
  }
  EXPECT_FALSE(p.release(*buffer));
}

}  // namespace
