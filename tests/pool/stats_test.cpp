// Stats add up: hits + misses = acquisitions, in use and peak follow the buffers, bytes by backing.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <vector>

#include "pool/size_class_pool.hpp"

namespace {

TEST(Stats, CountersAddUp) {
  pool::PoolConfig config;
  config.backing = pool::BackingPolicy::none;
  config.byte_limit = std::size_t{64} << 20;
  auto p = pool::make_pool(config);
  pool::Cache cache(*p);
  const std::size_t sizes[] = {4096, 16384, 65536, 262144, 1 << 20};
  std::vector<pool::Buffer> held;
  std::uint64_t acquisitions = 0;
  for (int round = 0; round < 3; ++round) {
    for (std::size_t size : sizes) {
      for (int i = 0; i < 5; ++i, ++acquisitions) held.push_back(*p->acquire(size));
      for (int i = 0; i < 5; ++i, ++acquisitions) held.push_back(*cache.acquire(size));
    }
  }
  auto s = *p->stats();
  std::uint64_t hits = 0, misses = 0, in_use = 0, bytes = 0;
  for (const auto& c : s.classes) {
    hits += c.hits;
    misses += c.misses;
    in_use += c.in_use;
    bytes += c.in_use * c.size;
    EXPECT_GE(c.peak, c.in_use);
  }
  EXPECT_EQ(hits + misses, acquisitions);
  EXPECT_EQ(in_use, held.size());
  EXPECT_EQ(s.bytes_in_use, bytes);
  EXPECT_EQ(s.classes[p->classes().index_for(65536)].in_use, 30u);
  EXPECT_EQ(s.classes[p->classes().index_for(65536)].peak, 30u);
  EXPECT_EQ(s.backing.small_page_bytes, p->mapped_bytes());
  EXPECT_EQ(s.bytes_limit, config.byte_limit);
  EXPECT_EQ(s.provider, "pool");

  for (std::size_t i = 0; i < held.size(); i += 2) EXPECT_FALSE(p->release(held[i]));
  for (std::size_t i = 1; i < held.size(); i += 2) EXPECT_FALSE(cache.release(held[i]));
  s = *p->stats();
  for (const auto& c : s.classes) EXPECT_EQ(c.in_use, 0u) << c.size;
  EXPECT_EQ(s.classes[p->classes().index_for(65536)].peak, 30u);
  EXPECT_EQ(s.bytes_in_use, 0u);
  EXPECT_EQ(s.acquire_failures, 0u);
}

TEST(Stats, FailuresAreCountedAndJsonParses) {
  pool::PoolConfig config;
  config.backing = pool::BackingPolicy::none;
  pool::SizeClassPool p(config);
  EXPECT_FALSE(p.acquire(0));
  EXPECT_FALSE(p.acquire(p.max_length() + 1));
  auto b = p.acquire(4096);
  ASSERT_TRUE(b);
  const auto json = nlohmann::json::parse(p.stats()->to_json());
  EXPECT_EQ(json["acquire_failures"], 2);
  EXPECT_EQ(json["bytes_in_use"], 4096);
  EXPECT_EQ(json["backing"]["small_page_bytes"], 2 << 20);
  EXPECT_EQ(json["classes"].size(), p.classes().count());
  EXPECT_EQ(json["classes"][0]["in_use"], 1);
  EXPECT_FALSE(p.release(*b));
}

}  // namespace
