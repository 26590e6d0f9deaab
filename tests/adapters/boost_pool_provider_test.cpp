#include "adapters/boost_pool_provider.hpp"

#include <gtest/gtest.h>

#include "provider_contract.hpp"

namespace adapters {
namespace {

TEST(BoostPoolProvider, RoundsUpToItsPowerOfTwoClass) {
  BoostPoolProvider provider("boost", testing::test_config());
  auto a = provider.acquire(1);
  auto b = provider.acquire(4097);
  auto c = provider.acquire(700000);
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(a->capacity, 4096u);
  EXPECT_EQ(b->capacity, 8192u);
  EXPECT_EQ(c->capacity, std::size_t{1} << 20);
  auto s = provider.stats();
  EXPECT_EQ(s->bytes_in_use, 4096u + 8192u + (1u << 20));
  EXPECT_EQ(s->classes[0].in_use, 1u);
  EXPECT_EQ(s->classes[1].in_use, 1u);
  EXPECT_EQ(s->classes[8].in_use, 1u);
  for (auto* buf : {&*a, &*b, &*c}) EXPECT_FALSE(provider.release(*buf));
}

TEST(BoostPoolProvider, ReusesAChunkAfterRelease) {
  BoostPoolProvider provider("boost", testing::test_config());
  auto a = provider.acquire(4096);
  ASSERT_TRUE(a);
  std::byte* first = a->data;
  EXPECT_FALSE(provider.release(*a));
  auto b = provider.acquire(4096);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->data, first);
  EXPECT_FALSE(provider.release(*b));
}

TEST(BoostPoolProvider, RefusesAlignmentAbove4096AndForeignPointers) {
  BoostPoolProvider provider("boost", testing::test_config());
  EXPECT_EQ(provider.acquire(4096, 8192).error(), std::make_error_code(std::errc::invalid_argument));
  alignas(4096) static std::byte not_ours[4096];
  pool::Buffer forged{not_ours, 4096, 4096, &provider, 0};
  EXPECT_EQ(provider.release(forged), std::make_error_code(std::errc::invalid_argument));
  forged.cookie = 99;
  EXPECT_EQ(provider.release(forged), std::make_error_code(std::errc::invalid_argument));
  EXPECT_EQ(provider.stats()->bytes_in_use, 0u);
}

}  // namespace
}  // namespace adapters
