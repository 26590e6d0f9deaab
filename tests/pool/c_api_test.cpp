// Runs the C checks (c_api_test.c, compiled as C) and the C ABI's registry side from C++.
#include <gtest/gtest.h>

#include "pool/callback_provider.hpp"
#include "pool/pool.h"
#include "pool/registry.hpp"
#include "pool/size_class_pool.hpp"

extern "C" const char* c_api_pool_round_trip(void);
extern "C" const char* c_api_callback_allocator(void);

namespace {

TEST(CApi, PoolRoundTripFromC) {
  const char* failure = c_api_pool_round_trip();
  EXPECT_EQ(failure, nullptr) << failure;
}

TEST(CApi, CallbackAllocatorFromC) {
  const char* failure = c_api_callback_allocator();
  EXPECT_EQ(failure, nullptr) << failure;
}

TEST(CApi, RegisteredPoolIsAProviderInTheRegistry) {
  ublkpool_config config;
  ublkpool_config_init(&config);
  config.backing = UBLKPOOL_BACKING_NONE;
  ublkpool_pool* p = nullptr;
  ASSERT_EQ(ublkpool_create(&config, &p), 0);
  ASSERT_EQ(ublkpool_register_pool(p, "c-pool"), 0);
  EXPECT_EQ(ublkpool_register_pool(p, "c-pool"), -EEXIST);
  auto provider = pool::registry().find("c-pool");
  ASSERT_TRUE(provider);
  ublkpool_destroy(p);  // the registry still holds it
  void* data = nullptr;
  ASSERT_EQ(ublkpool_provider_alloc("c-pool", 4096, 0, &data), 0);
  EXPECT_NE(dynamic_cast<pool::SizeClassPool*>(provider.get())->class_of(data), std::nullopt);
  EXPECT_EQ(ublkpool_provider_free("c-pool", data), 0);
  EXPECT_EQ(ublkpool_unregister("c-pool"), 0);
}

TEST(CApi, BadConfigIsEinval) {
  ublkpool_config config;
  ublkpool_config_init(&config);
  config.max_buffer_size = 12345;
  ublkpool_pool* p = reinterpret_cast<ublkpool_pool*>(1);
  EXPECT_EQ(ublkpool_create(&config, &p), -EINVAL);
  EXPECT_EQ(p, nullptr);
  ublkpool_config_init(&config);
  config.backing = 42;
  EXPECT_EQ(ublkpool_create(&config, &p), -EINVAL);
}

}  // namespace
