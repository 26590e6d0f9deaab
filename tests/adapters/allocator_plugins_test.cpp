// What is particular to the jemalloc and mimalloc plugins, beyond the common contract.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "../common/hugetlb_lock.hpp"
#include "adapters/registration.hpp"
#include "provider_contract.hpp"

namespace adapters {
namespace {

// mimalloc: a cache's heap is bound to its thread. A cache made on one thread and used on
// another, and destroyed on a third, must still work and leave every buffer valid.
TEST(MimallocPlugin, ACacheMovesBetweenThreadsSafely) {
  auto provider = testing::provider_named("mimalloc");
  auto cache = provider->make_cache();  // made here, bound to the first thread that acquires
  std::vector<pool::Buffer> held;
  std::thread owner([&] {
    for (int i = 0; i < 8; ++i) {
      auto b = cache->acquire(8192);
      ASSERT_TRUE(b);
      b->data[0] = std::byte{7};
      held.push_back(*b);
    }
  });
  owner.join();
  std::thread other([&] {
    auto b = cache->acquire(8192);  // not the heap's thread: falls back, still succeeds
    ASSERT_TRUE(b);
    EXPECT_FALSE(cache->release(*b));
    cache.reset();                  // not the heap's thread either: the heap is left to mimalloc
  });
  other.join();
  for (const auto& b : held) {
    EXPECT_EQ(b.data[0], std::byte{7});
    EXPECT_FALSE(provider->release(b));
  }
  EXPECT_EQ(provider->stats()->bytes_in_use, 0u);
}

TEST(MimallocPlugin, BuffersOutliveTheirCache) {
  auto provider = testing::provider_named("mimalloc");
  pool::Buffer kept;
  {
    auto cache = provider->make_cache();
    auto b = cache->acquire(65536);
    ASSERT_TRUE(b);
    kept = *b;
    kept.data[65535] = std::byte{9};
  }  // heap deleted on its own thread: mimalloc keeps the block alive
  EXPECT_EQ(kept.data[65535], std::byte{9});
  std::thread([&] { EXPECT_FALSE(provider->release(kept)); }).join();
}

// The opt-in hugetlb extent hooks: jemalloc's arena carved from one MAP_HUGETLB region.
TEST(JemallocPlugin, HugetlbExtentHooksBackTheArena) {
  const test_support::HugetlbLock lock(test_support::HugetlbLock::Mode::kShared);
  if (test_support::wait_for_free_hugepages_2m(16) < 16) GTEST_SKIP() << "fewer than 16 free 2 MiB hugetlb pages (scripts/hugepages.sh)";
  setenv("UBLKPOOL_JEMALLOC_HUGETLB_MB", "8", 1);
  pool::Registry registry;
  auto loaded = load_provider_plugin(plugin_directory({}) / "libublkpool_jemalloc.so", registry,
                                     testing::test_config());
  unsetenv("UBLKPOOL_JEMALLOC_HUGETLB_MB");
  ASSERT_TRUE(loaded) << loaded.message;
  auto provider = registry.find("jemalloc_hugetlb");
  // Other tests (libpool's) may take the free hugetlb pages between the check above and here.
  if (!provider) GTEST_SKIP() << "the hugetlb region could not be mapped (pages taken meanwhile)";
  std::vector<pool::Buffer> held;
  for (;;) {
    auto b = provider->acquire(std::size_t{1} << 20);
    if (!b) {
      EXPECT_EQ(b.error(), std::make_error_code(std::errc::not_enough_memory));
      break;
    }
    std::memset(b->data, 0xab, b->length);
    held.push_back(*b);
  }
  EXPECT_EQ(held.size(), 8u);  // the 8 MiB limit
  auto s = provider->stats();
  EXPECT_GE(s->backing.hugetlb_bytes, std::size_t{8} << 20);
  EXPECT_EQ(s->backing.other_bytes, 0u);
  for (const auto& b : held) EXPECT_FALSE(provider->release(b));
  auto again = provider->acquire(std::size_t{1} << 20);
  ASSERT_TRUE(again);
  EXPECT_FALSE(provider->release(*again));
}

}  // namespace
}  // namespace adapters
