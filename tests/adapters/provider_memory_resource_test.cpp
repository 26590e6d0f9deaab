#include "adapters/provider_memory_resource.hpp"

#include <gtest/gtest.h>

#include <memory_resource>
#include <string>
#include <thread>
#include <vector>

#include "adapters/boost_pool_provider.hpp"
#include "adapters/pmr_provider.hpp"
#include "provider_contract.hpp"

namespace adapters {
namespace {

TEST(ProviderMemoryResource, PmrContainersDrawFromTheProvider) {
  auto provider = std::make_shared<BoostPoolProvider>("boost", testing::test_config());
  ProviderMemoryResource resource(provider);
  {
    std::pmr::vector<std::uint64_t> numbers(&resource);
    for (std::uint64_t i = 0; i < 10000; ++i) numbers.push_back(i);
    EXPECT_EQ(resource.outstanding(), 1u);
    EXPECT_GE(provider->stats()->bytes_in_use, 10000 * sizeof(std::uint64_t));
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(numbers.data()) % pool::kPageSize, 0u);
    std::uint64_t sum = 0;
    for (auto n : numbers) sum += n;
    EXPECT_EQ(sum, 10000ull * 9999 / 2);
  }
  EXPECT_EQ(resource.outstanding(), 0u);
  EXPECT_EQ(provider->stats()->bytes_in_use, 0u);
}

TEST(ProviderMemoryResource, FailureThrowsBadAllocAndZeroBytesWork) {
  auto provider = std::make_shared<PmrProvider>("pmr", std::pmr::new_delete_resource(), testing::test_config());
  ProviderMemoryResource resource(provider);
  EXPECT_THROW((void)resource.allocate(provider->max_length() + 1, 64), std::bad_alloc);
  EXPECT_THROW((void)resource.allocate(4096, 3 * 4096), std::bad_alloc);  // not a power of two
  void* p = resource.allocate(0, 8);
  EXPECT_NE(p, nullptr);
  resource.deallocate(p, 0, 8);
  EXPECT_EQ(provider->stats()->bytes_in_use, 0u);
  EXPECT_TRUE(resource.is_equal(resource));
  ProviderMemoryResource other(provider);
  EXPECT_FALSE(resource.is_equal(other));
}

TEST(ProviderMemoryResource, DeallocateFromAnotherThread) {
  auto provider = std::make_shared<PmrProvider>("pmr", std::pmr::new_delete_resource(), testing::test_config());
  ProviderMemoryResource resource(provider);
  std::vector<void*> blocks;
  std::thread([&] {
    for (int i = 0; i < 32; ++i) blocks.push_back(resource.allocate(4096, 4096));
  }).join();
  EXPECT_EQ(resource.outstanding(), 32u);
  std::thread([&] {
    for (void* p : blocks) resource.deallocate(p, 4096, 4096);
  }).join();
  EXPECT_EQ(resource.outstanding(), 0u);
  EXPECT_EQ(provider->stats()->bytes_in_use, 0u);
}

TEST(ProviderMemoryResource, GivesBackWhatIsStillOutWhenDestroyed) {
  auto provider = std::make_shared<PmrProvider>("pmr", std::pmr::new_delete_resource(), testing::test_config());
  {
    ProviderMemoryResource resource(provider);
    (void)resource.allocate(8192, 4096);
    EXPECT_EQ(provider->stats()->bytes_in_use, 8192u);
  }
  EXPECT_EQ(provider->stats()->bytes_in_use, 0u);
}

}  // namespace
}  // namespace adapters
