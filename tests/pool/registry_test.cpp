// pool::registry(): named providers, the default, and its fallback to "pool".
#include "pool/registry.hpp"

#include <gtest/gtest.h>

#include "pool/size_class_pool.hpp"

namespace {

std::shared_ptr<pool::SizeClassPool> small_pool(const char* name) {
  pool::PoolConfig config;
  config.name = name;
  config.backing = pool::BackingPolicy::none;
  return pool::make_pool(config);
}

TEST(Registry, AddFindRemove) {
  pool::Registry registry;
  auto a = small_pool("a");
  EXPECT_TRUE(registry.add("a", a));
  EXPECT_FALSE(registry.add("a", a));   // taken
  EXPECT_FALSE(registry.add("", a));    // empty name
  EXPECT_FALSE(registry.add("b", nullptr));
  EXPECT_EQ(registry.find("a"), a);
  EXPECT_EQ(registry.find("b"), nullptr);
  EXPECT_EQ(registry.names(), std::vector<std::string>{"a"});
  EXPECT_TRUE(registry.remove("a"));
  EXPECT_FALSE(registry.remove("a"));
  EXPECT_TRUE(registry.names().empty());
}

TEST(Registry, DefaultIsPoolUnlessSetAndFallsBackToPool) {
  pool::Registry registry;
  EXPECT_EQ(registry.default_provider(), nullptr);
  auto p = small_pool("pool");
  auto other = small_pool("other");
  ASSERT_TRUE(registry.add("pool", p));
  ASSERT_TRUE(registry.add("other", other));
  EXPECT_EQ(registry.default_provider(), p);
  EXPECT_FALSE(registry.set_default("missing"));
  EXPECT_TRUE(registry.set_default("other"));
  EXPECT_EQ(registry.default_provider(), other);
  ASSERT_TRUE(registry.remove("other"));
  EXPECT_EQ(registry.default_provider(), p);  // the set_default() name is gone: "pool" again
  ASSERT_TRUE(registry.remove("pool"));
  EXPECT_EQ(registry.default_provider(), nullptr);
}

}  // namespace
