// Each adapter's contract: alignment, exact-size round trip, exhaustion turning into an error
// and recovering, bad input, release from another thread, and the common stats shape.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <thread>
#include <vector>

#include "provider_contract.hpp"

namespace adapters::testing {
namespace {

class ProviderContract : public ::testing::TestWithParam<ProviderCase> {
 protected:
  void SetUp() override { provider_ = provider_named(GetParam().name); }
  void TearDown() override {
    // Every test gives back what it took: the provider is shared by the whole process.
    if (auto s = provider_->stats()) {
      EXPECT_EQ(s->bytes_in_use, 0u) << GetParam().name;
    }
  }
  std::shared_ptr<pool::BufferProvider> provider_;
};

void fill(const pool::Buffer& b, unsigned seed) {
  for (std::size_t i = 0; i < b.length; ++i) b.data[i] = std::byte(static_cast<unsigned char>(i * 31 + seed));
}
bool holds(const pool::Buffer& b, unsigned seed) {
  for (std::size_t i = 0; i < b.length; ++i)
    if (b.data[i] != std::byte(static_cast<unsigned char>(i * 31 + seed))) return false;
  return true;
}

TEST_P(ProviderContract, BuffersArePageAlignedAndOwned) {
  for (std::size_t length : {std::size_t{512}, std::size_t{4096}, std::size_t{12288}, std::size_t{65536},
                             std::size_t{1} << 20}) {
    auto b = provider_->acquire(length);
    ASSERT_TRUE(b) << length << ": " << b.error().message();
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(b->data) % pool::kPageSize, 0u) << length;
    EXPECT_EQ(b->length, length);
    EXPECT_GE(b->capacity, length);
    EXPECT_EQ(b->owner, provider_.get());
    EXPECT_FALSE(provider_->release(*b));
  }
}

TEST_P(ProviderContract, HonoursEveryAlignmentUpToItsMaximum) {
  for (std::size_t alignment = 8; alignment <= GetParam().max_alignment; alignment *= 4) {
    // A length below the alignment too: nothing may assume length >= alignment.
    auto b = provider_->acquire(100, alignment);
    ASSERT_TRUE(b) << alignment << ": " << b.error().message();
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(b->data) % alignment, 0u) << alignment;
    EXPECT_FALSE(provider_->release(*b));
  }
}

TEST_P(ProviderContract, ExactSizeRoundTripKeepsTheBytes) {
  std::vector<pool::Buffer> held;
  unsigned seed = 1;
  // Four at once: the example slab plugin has four slots under test_config().
  for (std::size_t length : {std::size_t{1}, std::size_t{4097}, std::size_t{65536}, std::size_t{300000}}) {
    auto b = provider_->acquire(length);
    ASSERT_TRUE(b) << length;
    fill(*b, seed++);
    held.push_back(*b);
  }
  seed = 1;
  for (const auto& b : held) EXPECT_TRUE(holds(b, seed++)) << b.length;  // no overlap between buffers
  for (const auto& b : held) EXPECT_FALSE(provider_->release(b));
}

TEST_P(ProviderContract, RefusesBadInputWithInvalidArgument) {
  const auto invalid = std::make_error_code(std::errc::invalid_argument);
  EXPECT_EQ(provider_->acquire(0).error(), invalid);
  EXPECT_EQ(provider_->acquire(provider_->max_length() + 1).error(), invalid);
  EXPECT_EQ(provider_->acquire(4096, 3).error(), invalid);
  EXPECT_EQ(provider_->acquire(4096, 0).error(), invalid);
  EXPECT_EQ(provider_->acquire(4096, GetParam().max_alignment * 2).error(), invalid);
  pool::Buffer foreign{nullptr, 4096, 4096, nullptr, 0};
  EXPECT_EQ(provider_->release(foreign), invalid);
  auto s = provider_->stats();
  ASSERT_TRUE(s);
  EXPECT_GE(s->acquire_failures, 5u);
}

TEST_P(ProviderContract, ExhaustionIsAnErrorAndRecovers) {
  const auto before = provider_->stats()->acquire_failures;
  std::vector<pool::Buffer> held;
  pool::Expected<pool::Buffer> last = std::errc::io_error;
  for (int i = 0; i < 10000; ++i) {
    last = provider_->acquire(65536);
    if (!last) break;
    held.push_back(*last);
  }
  ASSERT_FALSE(last) << "never exhausted";
  EXPECT_EQ(last.error(), std::make_error_code(std::errc::not_enough_memory));
  ASSERT_FALSE(held.empty());
  auto s = provider_->stats();
  EXPECT_GT(s->acquire_failures, before);
  EXPECT_LE(s->bytes_in_use, s->bytes_limit);
  EXPECT_GE(s->bytes_in_use, held.size() * 65536);

  EXPECT_FALSE(provider_->release(held.back()));
  held.pop_back();
  auto again = provider_->acquire(65536);
  ASSERT_TRUE(again) << "no recovery after a release";
  held.push_back(*again);
  for (const auto& b : held) EXPECT_FALSE(provider_->release(b));
}

TEST_P(ProviderContract, StatsHaveTheCommonShape) {
  auto b = provider_->acquire(8192);
  ASSERT_TRUE(b);
  auto s = provider_->stats();
  ASSERT_TRUE(s);
  EXPECT_EQ(s->provider, GetParam().name);
  EXPECT_EQ(s->bytes_in_use, b->capacity);
  EXPECT_EQ(s->bytes_limit, test_config().byte_limit);
  ASSERT_FALSE(s->classes.empty());
  std::uint64_t in_use = 0;
  for (const auto& c : s->classes) in_use += c.in_use;
  EXPECT_EQ(in_use, 1u);
  EXPECT_NE(s->to_json().find("\"provider\":\"" + GetParam().name + "\""), std::string::npos);
  EXPECT_FALSE(provider_->release(*b));
}

TEST_P(ProviderContract, ReleaseFromAnotherThread) {
  std::vector<pool::Buffer> held;
  std::thread producer([&] {
    auto cache = provider_->make_cache();
    for (int i = 0; i < 4; ++i) {
      auto b = cache->acquire(16384);
      ASSERT_TRUE(b);
      fill(*b, static_cast<unsigned>(i));
      held.push_back(*b);
    }
  });
  producer.join();
  std::thread consumer([&] {
    for (std::size_t i = 0; i < held.size(); ++i) {
      EXPECT_TRUE(holds(held[i], static_cast<unsigned>(i)));
      EXPECT_FALSE(provider_->release(held[i]));
    }
  });
  consumer.join();
  // The producer's heap (mimalloc) or arena takes new requests after a foreign release.
  auto cache = provider_->make_cache();
  auto b = cache->acquire(16384);
  ASSERT_TRUE(b);
  EXPECT_FALSE(cache->release(*b));
}

TEST_P(ProviderContract, ConcurrentQueuesWithTheirOwnCaches) {
  std::atomic<int> failures{0};
  auto queue = [&](unsigned seed) {
    auto cache = provider_->make_cache();
    std::vector<pool::Buffer> held;
    for (int round = 0; round < 200; ++round) {
      auto b = cache->acquire(4096 * (1 + (round + seed) % 8));
      if (!b) { ++failures; continue; }
      fill(*b, seed);
      held.push_back(*b);
      if (held.size() > 1) {
        if (!holds(held.front(), seed)) ++failures;
        if (cache->release(held.front())) ++failures;
        held.erase(held.begin());
      }
    }
    for (const auto& b : held) if (cache->release(b)) ++failures;
  };
  std::thread a(queue, 1u), b(queue, 2u);
  a.join();
  b.join();
  EXPECT_EQ(failures.load(), 0);
}

INSTANTIATE_TEST_SUITE_P(
    Adapters, ProviderContract,
    ::testing::Values(ProviderCase{"pmr", kMaxAlignment, false},
                      ProviderCase{"pmr_pool", kMaxAlignment, false},
                      ProviderCase{"boost_pool", pool::kPageSize, false},
                      ProviderCase{"jemalloc", kMaxAlignment, false},
                      ProviderCase{"mimalloc", kMaxAlignment, true},
                      ProviderCase{"example_slab", pool::kPageSize, false}),
    [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace adapters::testing
